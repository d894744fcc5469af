using System.CommandLine;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Host.Cli;

/// <summary>`actorvisor demo`: boots the bundled greeting guest on the best accelerator available.</summary>
public static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var accelerator = CommonOptions.Accelerator();
        var timeout = CommonOptions.Timeout();
        var command = new Command("demo", "Boot the bundled demo guest (KVM if usable, else software) and stream its serial output")
        {
            accelerator, timeout,
        };
        command.SetAction(async (parse, _) =>
        {
            var spec = new MachineSpec { Image = GuestLibrary.Hello() };
            return await new GuestLauncher(Console.Out, Console.Error)
                .LaunchAsync(parse.GetValue(accelerator), spec, TimeSpan.FromSeconds(parse.GetValue(timeout)));
        });
        return command;
    }
}
