using Actorvisor.Hardware.Cgroups;

namespace Actorvisor.Hardware.Tests.Cgroups;

/// <summary>
/// Where per-VM CPU limits cannot work, <see cref="CpuLimitCgroups.TryOpen(out string)"/> says exactly why: no cgroup v2
/// line for the process, no cgroup2 mount, a hierarchy without the cpu controller (this host's hybrid layout). The
/// working case needs a cgroup v2 cpu controller and runs in the KVM harness (Actors' CpuLimitTests).
/// </summary>
public sealed class CpuLimitCgroupsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-cgroups-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void A_process_in_no_cgroup_v2_hierarchy_is_told_so()
    {
        var groups = CpuLimitCgroups.TryOpen(File("cgroup", "4:cpu,cpuacct:/\n1:name=systemd:/\n"), File("mountinfo", ""), out var why);
        Assert.Null(groups);
        Assert.Contains("no cgroup v2 hierarchy", why);
    }

    [Fact]
    public void Without_a_cgroup2_mount_the_reason_says_how_to_mount_one()
    {
        var mountinfo = File("mountinfo", "30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu\n");
        var groups = CpuLimitCgroups.TryOpen(File("cgroup", "0::/\n"), mountinfo, out var why);
        Assert.Null(groups);
        Assert.Contains("mount -t cgroup2", why);
    }

    [Fact]
    public void A_hierarchy_without_the_cpu_controller_is_named_with_its_controllers()
    {
        var mount = Directory.CreateDirectory(Path.Combine(_dir, "unified")).FullName;
        Directory.CreateDirectory(Path.Combine(mount, "node.service"));
        System.IO.File.WriteAllText(Path.Combine(mount, "node.service", "cgroup.controllers"), "hugetlb pids\n");
        var mountinfo = File("mountinfo", $"41 31 0:38 / {mount} rw,relatime shared:10 - cgroup2 cgroup2 rw\n");
        var groups = CpuLimitCgroups.TryOpen(File("cgroup", "0::/node.service\n"), mountinfo, out var why);
        Assert.Null(groups);
        Assert.Contains($"offers no cpu controller to {Path.Combine(mount, "node.service")}", why);
        Assert.Contains("cgroup.controllers: 'hugetlb pids'", why);
        Assert.Contains("systemd.unified_cgroup_hierarchy=1", why);
    }

    [Fact]
    public void On_this_host_the_answer_is_either_usable_groups_or_a_reason()
    {
        var groups = CpuLimitCgroups.TryOpen(out var why);
        if (groups is null) Assert.False(string.IsNullOrEmpty(why));
        else Assert.True(Directory.Exists(groups.Directory));
    }
}
