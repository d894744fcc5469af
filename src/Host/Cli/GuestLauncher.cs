using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;

namespace Actorvisor.Host.Cli;

/// <summary>
/// Boots one guest for the CLI: opens the accelerator, builds the machine, streams the serial console to
/// the terminal, prints which accelerator ran it and how it ended, and turns that into an exit code.
/// </summary>
public sealed class GuestLauncher(TextWriter output, TextWriter errors)
{
    /// <summary>Runs <paramref name="spec"/>; returns the process exit code (see <see cref="ExitCodes"/>).</summary>
    public int Launch(AcceleratorPreference preference, MachineSpec spec, TimeSpan timeout)
    {
        try
        {
            spec.Validate();
        }
        catch (MachineSpecException e)
        {
            errors.WriteLine($"actorvisor: invalid machine: {e.Message}");
            return ExitCodes.Usage;
        }

        IAccelerator accelerator;
        try
        {
            accelerator = AcceleratorSelector.Open(preference, out var note);
            if (note is not null) output.WriteLine($"[actorvisor] KVM not used: {note}");
        }
        catch (Exception e) when (e is NotSupportedException or DllNotFoundException or InvalidOperationException)
        {
            errors.WriteLine($"actorvisor: {e.Message}");
            return ExitCodes.Usage;
        }

        using (accelerator)
        {
            output.WriteLine($"[actorvisor] accelerator: {accelerator.Description}");
            Machine machine;
            try
            {
                machine = Machine.Create(accelerator, spec, new TextWriterConsoleSink(output));
            }
            catch (Exception e) when (e is ImageLoadException or MachineSpecException)
            {
                errors.WriteLine($"actorvisor: {e.Message}");
                return ExitCodes.Usage;
            }
            using (machine)
            {
                output.WriteLine($"[actorvisor] booting {spec.Image.Name}: {spec.EffectiveBootMode} mode, {spec.EffectiveVcpuCount} vCPU(s), {spec.MemoryBytes >> 20} MiB, entry 0x{machine.Image.Entry:x}");
                output.Flush();
                var result = machine.Run(timeout);
                var text = machine.Console.Text;
                if (text.Length > 0 && text[^1] != '\n') output.WriteLine(); // keep the summary on its own line
                output.WriteLine($"[actorvisor] guest {result} on {accelerator.Kind.ToString().ToLowerInvariant()}");
                return ExitCodeOf(result);
            }
        }
    }

    /// <summary>The exit code for a result: the guest's result code, 0 for halt, 255 for a crash, 124 for a timeout.</summary>
    public static int ExitCodeOf(MachineResult result) => result.Outcome switch
    {
        MachineOutcome.Exited => result.ResultCode ?? 0,
        MachineOutcome.Halted => ExitCodes.Ok,
        MachineOutcome.TimedOut => ExitCodes.TimedOut,
        _ => ExitCodes.GuestCrashed,
    };
}
