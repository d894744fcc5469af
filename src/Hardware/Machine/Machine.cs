using System.Diagnostics;
using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

// The namespace is plural so that code under Actorvisor.Hardware can name the Machine type without
// the namespace shadowing it.
namespace Actorvisor.Hardware.Machines;

/// <summary>
/// The running half of a machine: runs the vCPUs of a <see cref="MachineParts"/> it builds and owns, one
/// dedicated thread each, until the guest ends (the self-contained way for the CLI, benches and tests), and
/// captures the guest's serial output for the <see cref="MachineResult"/>. The actor runtime builds
/// <see cref="MachineParts"/> alone and drives the vCPUs itself.
/// </summary>
/// <remarks>
/// <see cref="Dispose"/> tears down in dependency order: stop vCPU threads, then the parts (vCPUs, the VM,
/// guest RAM).
/// </remarks>
public sealed class Machine : IDisposable
{
    /// <summary>How long <see cref="Run"/> and <see cref="Dispose"/> wait for kicked vCPU threads to leave the guest.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly IReadOnlyList<IVirtualCpu> _vcpus;
    // This run's identity for the exit counters of its vCPUs (a new one each Run).
    private long _run;
    private readonly object _runGate = new();
    private readonly ManualResetEventSlim _allStopped = new(true);
    private volatile bool _stopRequested;
    private volatile bool[] _finished = [];
    private int _running;
    private bool _ran;
    private bool _disposed;
    // The first reason the run ended (MachineOutcome boxed as int; -1 = none yet), and the fatal reason.
    private int _firstEnd = -1;
    private string? _fatalReason;

    private Machine(MachineParts parts, CapturingConsoleSink console)
    {
        Parts = parts;
        _vcpus = parts.Vcpus;
        Console = console;
    }

    /// <summary>What the machine was built from and runs; owned by the machine.</summary>
    public MachineParts Parts { get; }

    /// <summary>The spec the machine was built from.</summary>
    public MachineSpec Spec => Parts.Spec;

    /// <summary>Guest RAM: guest-physical address N is offset N.</summary>
    public HostMemory Memory => Parts.Memory;

    /// <summary>The lazy region of <see cref="MachineSpec.LazyMemory"/> (memslot <see cref="LazyMemorySpec.Slot"/>), or null.</summary>
    public LazyGuestMemory? LazyMemory => Parts.LazyMemory;

    /// <summary>The accelerator's VM.</summary>
    public IVirtualMachine Vm => Parts.Vm;

    /// <summary>The vCPUs, by index.</summary>
    public IReadOnlyList<IVirtualCpu> Vcpus => _vcpus;

    /// <summary>Where the image was loaded and its entry point (after the spec's override).</summary>
    public LoadedImage Image => Parts.Image;

    /// <summary>The boot setup applied to memory and vCPUs (mode, entry, vCPU count).</summary>
    public BootSetup Boot => Parts.Boot;

    /// <summary>The exit handler of every vCPU: register more devices here before running.</summary>
    public DeviceBus Bus => Parts.Bus;

    /// <summary>Everything the guest printed on COM1 (what <see cref="MachineResult"/> reports).</summary>
    public CapturingConsoleSink Console { get; }

    /// <summary>The UART on COM1 (0x3f8).</summary>
    public Uart16550 Serial => Parts.Serial;

    /// <summary>
    /// Console input: queues <paramref name="bytes"/> on COM1's receiver (and raises its interrupt on the PC
    /// platform). Returns how many bytes were taken.
    /// </summary>
    public int SendConsoleInput(ReadOnlySpan<byte> bytes) => Serial.Feed(bytes);

    /// <summary>The debug-exit device on port 0xf4.</summary>
    public DebugExitDevice DebugExit => Parts.DebugExit;

    /// <summary>
    /// Builds the machine's parts (<see cref="MachineParts.Build"/>) with the guest's serial output captured in
    /// <see cref="Console"/> and, if given, also sent to <paramref name="console"/>. The faults of the spec's lazy
    /// memory go to <paramref name="lazyFaults"/>, or to a <see cref="SynchronousPageResolver"/> without one.
    /// </summary>
    /// <exception cref="MachineSpecException">the spec is invalid.</exception>
    /// <exception cref="ImageLoadException">the image cannot be loaded or overlaps the boot structures.</exception>
    public static Machine Create(IAccelerator accelerator, MachineSpec spec, IConsoleSink? console = null, IPageFaultSink? lazyFaults = null)
    {
        var capture = new CapturingConsoleSink();
        IConsoleSink sink = console is null ? capture : new FanOutConsoleSink(capture, console);
        return new Machine(MachineParts.Build(accelerator, spec, sink, lazyFaults), capture);
    }

    /// <summary>
    /// Runs every vCPU on its own thread until the guest ends: a debug-exit write (the other vCPUs are then
    /// kicked), HLT on every vCPU, or a fatal exit (the others are kicked and the run fails with the reason).
    /// Can be called once.
    /// </summary>
    /// <param name="timeout">How long the guest may run; then the vCPUs are kicked and the outcome is <see cref="MachineOutcome.TimedOut"/>.</param>
    /// <param name="cancellationToken">Kicks the vCPUs out and throws <see cref="OperationCanceledException"/> once they stopped.</param>
    public MachineResult Run(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "timeout must be positive (or infinite)");
        lock (_runGate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ran) throw new InvalidOperationException("a machine runs once; create a new one to run again");
            _ran = true;
            _allStopped.Reset();
            _running = _vcpus.Count;
            _finished = new bool[_vcpus.Count];
        }

        var exits = new VcpuExit?[_vcpus.Count];
        _run = Metrics.HardwareMeter.NewRun();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < _vcpus.Count; i++)
        {
            int index = i;
            new Thread(() => RunVcpu(index, exits)) { Name = $"vcpu-{index}", IsBackground = true }.Start();
        }

        bool cancelled = false;
        try
        {
            if (!_allStopped.Wait(timeout, cancellationToken))
                RequestStop(MachineOutcome.TimedOut, exceptVcpu: -1);
        }
        catch (OperationCanceledException)
        {
            cancelled = true;
            RequestStop(MachineOutcome.Stopped, exceptVcpu: -1);
        }
        if (!_allStopped.Wait(StopGrace))
        {
            RecordFatal($"vCPU threads did not stop within {StopGrace.TotalSeconds} s of being kicked");
        }
        clock.Stop();
        if (cancelled) throw new OperationCanceledException("the machine run was cancelled; its vCPUs have stopped", cancellationToken);

        var outcome = _firstEnd >= 0 ? (MachineOutcome)_firstEnd
            : exits.All(e => e is VcpuExit.Hlt) ? MachineOutcome.Halted
            : MachineOutcome.Stopped;
        return new MachineResult(outcome, exits, DebugExit.ResultCode, _fatalReason, clock.Elapsed, Console.Text);
    }

    private void RunVcpu(int index, VcpuExit?[] exits)
    {
        var vcpu = _vcpus[index];
        using var counters = Spec.CountExitsAs is { } name ? new Metrics.VcpuExitCounters(name, vcpu, _run) : null;
        IExitHandler handler = counters?.Wrap(Bus) ?? Bus;
        try
        {
            while (!_stopRequested)
            {
                long start = Stopwatch.GetTimestamp();
                var exit = vcpu.Run(handler);
                counters?.CountReturn(exit, Stopwatch.GetTimestamp() - start);
                exits[index] = exit;
                if (exit is VcpuExit.Interrupted) continue; // a kick: the loop condition decides
                if (exit is VcpuExit.Hlt) break; // interrupts are off, nothing can wake this vCPU
                if (exit is VcpuExit.SystemReset)
                {
                    RequestStop(MachineOutcome.Reset, index);
                    break;
                }
                if (exit.IsFatal)
                {
                    RecordFatal($"vCPU {index}: {Describe(exit)}");
                    RequestStop(MachineOutcome.Failed, index);
                    break;
                }
                // A device returned Stop: debug-exit ends the guest; any other device ends the run too.
                RequestStop(DebugExit.HasExited ? MachineOutcome.Exited : Parts.ResetRequested ? MachineOutcome.Reset : MachineOutcome.Stopped, index);
                break;
            }
        }
        catch (Exception e)
        {
            RecordFatal($"vCPU {index}: its thread failed: {e.GetType().Name}: {e.Message}");
            RequestStop(MachineOutcome.Failed, index);
        }
        finally
        {
            _finished[index] = true;
            if (Interlocked.Decrement(ref _running) == 0) _allStopped.Set();
        }
    }

    private void RecordFatal(string reason)
    {
        Interlocked.CompareExchange(ref _fatalReason, reason, null);
        Interlocked.CompareExchange(ref _firstEnd, (int)MachineOutcome.Failed, -1);
    }

    // Ends the run: the flag first, then the kicks, so a vCPU thread between two Run calls either sees the
    // flag or enters Run with the (sticky) kick pending.
    private void RequestStop(MachineOutcome reason, int exceptVcpu)
    {
        Interlocked.CompareExchange(ref _firstEnd, (int)reason, -1);
        _stopRequested = true;
        var finished = _finished;
        for (int i = 0; i < _vcpus.Count; i++)
        {
            if (i == exceptVcpu || (i < finished.Length && finished[i])) continue;
            _vcpus[i].Kick();
        }
    }

    private static string Describe(VcpuExit exit) => exit switch
    {
        VcpuExit.Shutdown s => $"shutdown ({s.Reason})",
        VcpuExit.InternalError e => $"internal error ({e.Reason})",
        VcpuExit.FailEntry f => $"failed entry, hardware reason 0x{f.HardwareReason:x} ({f.Reason})",
        _ => exit.ToString(),
    };

    /// <summary>Stops running vCPU threads, then disposes the vCPUs, the VM and guest RAM (lazy region included), in that order.</summary>
    public void Dispose()
    {
        lock (_runGate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        if (!_allStopped.IsSet)
        {
            RequestStop(MachineOutcome.Stopped, exceptVcpu: -1);
            // Unmapping RAM under a vCPU that is still in the guest would crash the process; leaking is safer.
            if (!_allStopped.Wait(StopGrace)) return;
        }
        Parts.Dispose();
    }
}
