using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Cgroups;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Host.Node;

/// <summary>
/// The node's policy over the host probes: which host capabilities its settings need, which are optional (a
/// feature is disabled without them), and for each missing one exactly how to grant it. See deploy/README.md
/// ("Running without root").
/// </summary>
public static class HostRequirements
{
    /// <summary>The KVM device.</summary>
    public const string KvmDevice = "/dev/kvm";

    /// <summary>Probes the host for everything <paramref name="settings"/> may use, one check per capability.</summary>
    public static IReadOnlyList<HostCheck> Check(NodeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var checks = new List<HostCheck>();
        if (settings.Accelerator != AcceleratorPreference.Software) checks.Add(Kvm(settings.Accelerator == AcceleratorPreference.Kvm));
        checks.Add(Userfaultfd());
        checks.Add(Memlock());
        checks.Add(CpuLimits());
        // VFIO devices are not part of the node's settings (yet): nothing to open.
        checks.Add(new HostCheck("vfio", Ok: true, Required: false, "no VFIO devices configured"));
        // Nor are tap devices (the node has no network devices yet): reported, so the list says what was not checked.
        checks.Add(new HostCheck("tap", Ok: true, Required: false, "no tap devices configured (/dev/net/tun is not opened)"));
        return checks;
    }

    private static HostCheck Kvm(bool required)
    {
        var probe = HostProbes.OpenReadWrite(KvmDevice);
        if (probe.Available) return new HostCheck("kvm", true, required, probe.Detail);
        string consequence = required
            ? "Node:Accelerator is kvm, so the node cannot start"
            : "Node:Accelerator is auto, so the node runs guests on the software accelerator";
        return new HostCheck("kvm", false, required,
            $"{probe.Detail}; grant: load kvm_intel or kvm_amd so {KvmDevice} exists, and add the node's user to the group owning it " +
            $"(usermod -aG kvm <user>; the systemd unit has SupplementaryGroups=kvm and DeviceAllow={KvmDevice} rw); {consequence}");
    }

    private static HostCheck Userfaultfd()
    {
        var probe = HostProbes.Userfaultfd();
        if (probe.Available) return new HostCheck("userfaultfd", true, false, probe.Detail);
        return new HostCheck("userfaultfd", false, false,
            $"{probe.Detail}; grant one of: sysctl vm.unprivileged_userfaultfd=1, or give the node's user read-write access to /dev/userfaultfd " +
            "(e.g. a udev rule KERNEL==\"userfaultfd\", GROUP=\"kvm\", MODE=\"0660\", and DeviceAllow=/dev/userfaultfd rw in the unit); " +
            "lazy guest memory (scenarios with lazy memory, async page faults) is disabled until then; everything else works");
    }

    private static HostCheck CpuLimits()
    {
        if (CpuLimitCgroups.TryOpen(out var unavailable) is { } groups)
            return new HostCheck("cpu-limits", true, false, $"threaded cgroups with cpu.max under {groups.Directory}");
        return new HostCheck("cpu-limits", false, false, $"{unavailable}; VMs created with a CPU limit run without it");
    }

    private static HostCheck Memlock()
    {
        var limit = HostProbes.MemlockLimitBytes();
        // No code path locks memory (no mlock, MAP_LOCKED or locked registrations): the limit is reported, never required.
        return new HostCheck("memlock", true, false,
            $"RLIMIT_MEMLOCK {(limit is { } l ? $"{l >> 10} KiB" : "unlimited")}; the node locks no memory, so any limit will do");
    }
}
