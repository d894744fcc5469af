using System.Diagnostics;
using Actorvisor.Actors.Registry;
using Actorvisor.Actors.Runtime;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Host.Cli;

/// <summary>
/// Boots one guest for the CLI through the actor tree (a single-node ActorSystem: VmRegistryActor -> VmActor ->
/// VcpuActors): opens the accelerator, creates and starts the VM, streams its serial console to the
/// terminal, prints which accelerator ran it and how it ended, and turns that into an exit code.
/// </summary>
public sealed class GuestLauncher(TextWriter output, TextWriter errors, Stream? consoleInput = null)
{
    /// <summary>The name the CLI gives its one VM.</summary>
    public const string VmName = "cli";

    /// <summary>
    /// How long the CLI waits for its node to create, start or stop its one VM. Creating reads the image and sets up guest
    /// memory: inside the nested KVM harness on a loaded machine that took longer than the runtime's default 30 s (a
    /// kvm-unit-tests kernel's `run` failed with an ask timeout), and the CLI has nothing else to wait for.
    /// </summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Runs <paramref name="spec"/>; returns the process exit code (see <see cref="ExitCodes"/>). If the launcher was
    /// given a console input stream, what it reads goes to the guest's serial console while the guest runs.
    /// </summary>
    public async Task<int> LaunchAsync(AcceleratorPreference preference, MachineSpec spec, TimeSpan timeout)
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
            if (spec.Image.Platform == GuestPlatform.Pc && accelerator.Kind != AcceleratorKind.Kvm)
            {
                errors.WriteLine($"actorvisor: {spec.Image.Name} needs the PC platform (in-kernel interrupt controllers and timers), which only KVM provides: "
                    + $"the {accelerator.Description} accelerator cannot run it (nor any Linux kernel)");
                return ExitCodes.Usage;
            }
            output.WriteLine($"[actorvisor] accelerator: {accelerator.Description}");
            var runtime = ActorvisorRuntime.Start(new NodeCapacity(GuestLayout.MaxVcpus, spec.MemoryBytes), requestTimeout: RequestTimeout);
            try
            {
                return await RunOnNodeAsync(runtime, accelerator, spec, timeout);
            }
            finally
            {
                await runtime.ShutdownAsync();
            }
        }
    }

    private async Task<int> RunOnNodeAsync(ActorvisorRuntime runtime, IAccelerator accelerator, MachineSpec spec, TimeSpan timeout)
    {
        bool atLineStart = true;
        void OnEvent(VmEvent e)
        {
            if (e is not VmConsoleOutput console || console.Bytes.Length == 0) return;
            output.Write(console.Text);
            output.Flush();
            atLineStart = console.Bytes[^1] == (byte)'\n';
        }

        VmSession session;
        try
        {
            session = await runtime.CreateVmAsync(MachineVm.Spec(VmName, accelerator, spec), OnEvent);
        }
        catch (ActorvisorException e)
        {
            // Refused before anything ran: an unreadable or malformed image, an invalid spec.
            errors.WriteLine($"actorvisor: {e.Message}");
            return ExitCodes.Usage;
        }

        output.WriteLine($"[actorvisor] booting {spec.Image.Name}: {spec.EffectiveBootMode} mode, {spec.EffectiveVcpuCount} vCPU(s), {spec.MemoryBytes >> 20} MiB, as VM '{session.Name}' on a single-node actor runtime");
        var clock = Stopwatch.StartNew();
        await session.StartAsync();
        if (consoleInput is not null) StartForwardingInput(consoleInput, session);
        VmOutcome outcome;
        bool timedOut = false;
        try
        {
            outcome = await session.Ended.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            timedOut = true;
            outcome = await session.StopAsync();
        }
        clock.Stop();
        if (!atLineStart) output.WriteLine(); // keep the summary on its own line
        string kind = accelerator.Kind.ToString().ToLowerInvariant();
        output.WriteLine(timedOut
            ? $"[actorvisor] guest still running after {timeout.TotalSeconds:0.#} s: stopped ({kind})"
            : $"[actorvisor] guest {outcome} after {clock.Elapsed.TotalMilliseconds:0.#} ms on {kind}");
        return timedOut ? ExitCodes.TimedOut : ExitCodeOf(outcome);
    }

    // A background thread (stdin reads block) that forwards console input until end of input or the VM's end.
    private static void StartForwardingInput(Stream input, VmSession session)
    {
        var thread = new Thread(() =>
        {
            var buffer = new byte[256];
            try
            {
                int n;
                while (!session.Ended.IsCompleted && (n = input.Read(buffer)) > 0)
                {
                    var pending = buffer[..n];
                    while (pending.Length > 0 && !session.Ended.IsCompleted)
                    {
                        int taken = session.SendConsoleInputAsync(pending).GetAwaiter().GetResult();
                        pending = pending[taken..];
                        // The UART's receive queue is full: the guest reads it at its own pace.
                        if (pending.Length > 0) session.Ended.Wait(TimeSpan.FromMilliseconds(20));
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or ActorvisorException or Akka.Actor.AskTimeoutException)
            {
                // The VM ended or stdin closed: nothing more to forward.
            }
        }) { Name = "console-input", IsBackground = true };
        thread.Start();
    }

    /// <summary>The exit code for an outcome: the guest's result code, 0 for halt or reset, 255 for a crash or a device stop.</summary>
    public static int ExitCodeOf(VmOutcome outcome) => outcome switch
    {
        VmOutcome.Exited e => e.ResultCode,
        VmOutcome.Halted => ExitCodes.Ok,
        VmOutcome.Reset => ExitCodes.Ok,
        _ => ExitCodes.GuestCrashed,
    };
}
