using System.CommandLine;
using Actorvisor.Hardware.Accel;

namespace Actorvisor.Host.Cli;

/// <summary>Options shared by the commands that boot a guest.</summary>
public static class CommonOptions
{
    /// <summary>--accelerator auto|kvm|software.</summary>
    public static Option<AcceleratorPreference> Accelerator() => new("--accelerator")
    {
        Description = "auto (KVM if /dev/kvm is usable, else software), kvm or software",
        DefaultValueFactory = _ => AcceleratorPreference.Auto,
    };

    /// <summary>--timeout SECONDS: how long the guest may run.</summary>
    public static Option<double> Timeout()
    {
        var option = new Option<double>("--timeout")
        {
            Description = "seconds the guest may run before it is stopped (exit code 124)",
            DefaultValueFactory = _ => 60,
        };
        option.Validators.Add(r => { if (r.GetValueOrDefault<double>() <= 0) r.AddError("--timeout must be a positive number of seconds"); });
        return option;
    }

    /// <summary>--cmdline TEXT: the kernel command line (multiboot kernels; shared with Linux kernels).</summary>
    public static Option<string?> CommandLine() => new("--cmdline") { Description = "the kernel's command line (multiboot kernels get it in their multiboot information)" };

    /// <summary>--module FILE[=STRING], repeatable: a multiboot module and the string the kernel gets for it.</summary>
    public static Option<string[]> Module() => new("--module")
    {
        Description = "a multiboot module file, loaded after the kernel; =STRING sets its string (default: FILE); repeat for more",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>--vsock CID: a virtio-vsock device with that guest CID.</summary>
    public static Option<ulong?> Vsock() => new("--vsock")
    {
        Description = "a virtio-vsock device with this guest CID (3 or more); host processes reach guest port P by connecting to its Unix socket and writing \"CONNECT P\\n\", and the guest's connections to host port P go to SOCKET_P",
    };

    /// <summary>--disk FILE[,ro], repeatable: a raw disk image the guest sees as a virtio-blk device.</summary>
    public static Option<string[]> Disk() => new("--disk")
    {
        Description = "a raw disk image the guest sees as a virtio-blk device (virtio-mmio); ,ro makes it read-only; repeat for more (vda, vdb, ...)",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>--net tap=NAME[,mac=..], repeatable: a virtio-net card on a host tap interface.</summary>
    public static Option<string[]> Net() => new("--net")
    {
        Description = "a virtio-net card (virtio-mmio) on host tap interface NAME, created if there is none (needs CAP_NET_ADMIN; the host sets its address); "
                      + ",mac=XX:XX:XX:XX:XX:XX sets the card's address (default: derived from NAME); repeat for more (eth0, eth1, ...)",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
}
