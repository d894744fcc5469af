using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Node;

/// <summary>
/// A node and the scenario runner's in-process node run as nobody (setpriv, RLIMIT_MEMLOCK 0, no kvm group: the
/// software accelerator), with and without the grant lazy memory needs on this kernel. The grant is a group
/// (<see cref="UffdGroup"/>) given read-write access to /dev/userfaultfd; vm.unprivileged_userfaultfd stays 0. So that
/// the host's own /dev/userfaultfd is never changed, the granted runs see a copy of the device node (same device
/// number, that group, mode 0660) bind-mounted over it in a mount namespace of their own.
/// </summary>
public sealed class UnprivilegedNodeTests : IDisposable
{
    private const int Nobody = 65534;
    private const int UffdGroup = 64999; // a group id no account on the machine uses; setpriv takes it as a number
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90); // a one-node cluster forms in about 5 s on the shared machine
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-unprivileged-").FullName;

    public UnprivilegedNodeTests()
    {
        // nobody must reach the directory and write the data directory (and dotnet's home): the temp dir is 0700 by default.
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        foreach (var sub in new[] { "data", "home" }) File.SetUnixFileMode(Directory.CreateDirectory(Path.Combine(_dir, sub)).FullName, (UnixFileMode)0b111_111_111);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// unshare (a private mount namespace; with <paramref name="grantUserfaultfd"/>, the group's copy of /dev/userfaultfd
    /// mounted over it), then prlimit --memlock=0, then setpriv to nobody with the one supplementary group. Every step
    /// execs the next, so the process id the test sees is the unprivileged actorvisor's.
    /// </summary>
    private string[] Launcher(bool grantUserfaultfd) =>
    [
        "unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
        """
        set -e
        dir=$1; grant=$2; group=$3; shift 3
        if [ "$grant" = yes ]; then
          rm -f "$dir/userfaultfd"
          mknod "$dir/userfaultfd" c 0x$(stat -c %t /dev/userfaultfd) 0x$(stat -c %T /dev/userfaultfd)
          chgrp "$group" "$dir/userfaultfd"
          chmod 0660 "$dir/userfaultfd"
          mount --bind "$dir/userfaultfd" /dev/userfaultfd
        fi
        exec "$@"
        """,
        "sh", _dir, grantUserfaultfd ? "yes" : "no", UffdGroup.ToString(),
        "prlimit", "--memlock=0:0", "--",
        "setpriv", $"--reuid={Nobody}", $"--regid={Nobody}", $"--groups={UffdGroup}", "--",
    ];

    private Dictionary<string, string> Environment => new() { ["HOME"] = Path.Combine(_dir, "home"), ["DOTNET_CLI_HOME"] = Path.Combine(_dir, "home") };

    private string Config()
    {
        var file = Path.Combine(_dir, "node.json");
        File.WriteAllText(file, $$"""
            { "Node": { "Name": "u1", "Port": 4998, "DataDir": "{{Path.Combine(_dir, "data")}}", "Accelerator": "software" } }
            """);
        File.SetUnixFileMode(file, (UnixFileMode)0b110_100_100);
        return file;
    }

    private static string Line(CliResult r, string check) =>
        r.Stdout.Split('\n').SingleOrDefault(l => l.StartsWith(check + ": ", StringComparison.Ordinal)) ?? throw new Xunit.Sdk.XunitException($"no '{check}:' line in\n{r}");

    private Task<CliResult> RunScenario(bool grant) =>
        ActorvisorProcess.RunAsync(["scenario", "run", Path.Combine(HostCheckTests.RepositoryRoot(), "tests", "scenarios", "lazy-memory-slow-store.yaml")],
            Wait, Environment, launcher: Launcher(grant));

    /// <summary>Runs a node as nobody, checks that it is nobody, and runs the hello guest on it through the API; returns the node's log.</summary>
    private async Task<string> RunHelloOnNode(bool grant)
    {
        var port = Actorvisor.Host.Cluster.LoopbackCluster.FreePorts(1)[0];
        var contact = $"127.0.0.1:{port}";
        await using var node = ActorvisorProcess.Start("u1", ["node", "--config", Config(), "--stop-on-stdin-eof", "--port", port.ToString(),
            "--vcpus", "2", "--memory", "64M"], Environment, Launcher(grant));
        await node.WaitForLineAsync("Node u1 is Up in cluster", Wait);
        var status = File.ReadAllLines($"/proc/{node.Pid}/status");
        Assert.Contains(status, l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries).Skip(1).All(id => id == Nobody.ToString()));
        Assert.Contains(status, l => l == $"Groups:\t{UffdGroup} ");
        var created = await ActorvisorProcess.RunAsync(["vm", "create", "greeter", "--image", "hello", "--node", contact]);
        Assert.True(created.ExitCode == 0, created.ToString());
        var console = await ActorvisorProcess.RunAsync(["vm", "console", "greeter", "--start", "--node", contact], Wait);
        Assert.True(console.ExitCode == 0, console + "\nnode:\n" + node.Output);
        Assert.Contains(Hardware.Guests.GuestLibrary.HelloText.Trim(), console.Stdout);
        Assert.Contains("exited with result code 0", console.Stderr);
        node.CloseInput();
        Assert.Equal(0, await node.WaitForExitAsync(Wait));
        return node.Output;
    }

    [RootOnlyFact]
    public async Task With_dev_userfaultfd_granted_to_its_group_nobody_runs_vms_with_and_without_lazy_memory()
    {
        var check = await ActorvisorProcess.RunAsync(["node", "--config", Config(), "--check-config"], Wait, Environment, launcher: Launcher(true));
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.StartsWith("userfaultfd: ok: ", Line(check, "userfaultfd"));
        Assert.StartsWith("memlock: ok: RLIMIT_MEMLOCK 0 KiB", Line(check, "memlock"));
        // Nothing required is missing; of the optional checks only cpu-limits may be (this CI host is cgroup v1 hybrid).
        Assert.DoesNotContain("missing:", check.Stdout);
        Assert.All(check.Stdout.Split('\n').Where(l => l.Contains("missing (optional)", StringComparison.Ordinal)), l => Assert.StartsWith("cpu-limits: ", l));

        var lazy = await RunScenario(grant: true);
        Assert.True(lazy.ExitCode == 0, lazy.ToString());
        Assert.Contains("1 passed, 0 failed", lazy.Stdout);

        var log = await RunHelloOnNode(grant: true);
        Assert.DoesNotContain("Host check userfaultfd", log);
    }

    [RootOnlyFact]
    public async Task Without_the_grant_the_check_names_the_device_its_owner_and_mode_and_the_nodes_user_and_groups()
    {
        var check = await ActorvisorProcess.RunAsync(["node", "--config", Config(), "--check-config"], Wait, Environment, launcher: Launcher(false));
        Assert.True(check.ExitCode == 0, check.ToString()); // lazy memory is optional: the node starts without it
        var uffd = Line(check, "userfaultfd");
        Assert.StartsWith("userfaultfd: missing (optional): userfaultfd refused: EPERM; vm.unprivileged_userfaultfd=0, /dev/userfaultfd not openable: ", uffd);
        var device = Hardware.Native.AccessDescription.OwnerAndMode("/dev/userfaultfd"); // as the host has it, e.g. "0(root):0(root) mode 0600"
        Assert.Contains(device, uffd);
        Assert.Contains($"this process runs as uid {Nobody}(nobody), gid {Nobody}(", uffd);
        Assert.Contains($"supplementary groups [{UffdGroup}]", uffd);
        Assert.Contains("sysctl vm.unprivileged_userfaultfd=1", uffd);
        Assert.StartsWith("memlock: ok: RLIMIT_MEMLOCK 0 KiB", Line(check, "memlock"));

        // The lazy VM is refused with the same facts; the scenario fails at its first step.
        var lazy = await RunScenario(grant: false);
        Assert.True(lazy.ExitCode == 1, lazy.ToString());
        Assert.Contains("creating VM 'lazy' failed", lazy.Stdout);
        Assert.Contains("/dev/userfaultfd could not be opened (EACCES", lazy.Stdout.Replace("\n", "", StringComparison.Ordinal));

        // Everything else works: the node warns once at start and runs a VM with ordinary memory.
        var log = await RunHelloOnNode(grant: false);
        Assert.Contains("Host check userfaultfd: missing (optional)", log);
    }
}
