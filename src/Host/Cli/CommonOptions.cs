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
}
