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
/// A complete virtual machine built from an accelerator and a <see cref="MachineSpec"/>: guest RAM in
/// memslot 0 at guest-physical 0, the image loaded, the boot structures written, every vCPU created and set
/// up for entry, and a device bus with a 16550 UART on COM1 and the debug-exit port.
/// </summary>
/// <remarks>
/// The parts are public so that the actor runtime can drive the vCPUs itself (each with
/// <see cref="IVirtualCpu.Run"/> and <see cref="Bus"/> as the exit handler). <see cref="Run"/> is the
/// self-contained way for the CLI and tests: one dedicated thread per vCPU until the guest ends.
/// <see cref="Dispose"/> tears down in dependency order: stop vCPU threads, dispose vCPUs, the VM, then
/// unmap guest RAM.
/// </remarks>
public sealed class Machine : IDisposable
{
    /// <summary>How long <see cref="Run"/> and <see cref="Dispose"/> wait for kicked vCPU threads to leave the guest.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly IVirtualCpu[] _vcpus;
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

    private Machine(MachineSpec spec, HostMemory memory, LazyGuestMemory? lazyMemory, IVirtualMachine vm, IVirtualCpu[] vcpus, LoadedImage image,
        BootSetup boot, DeviceBus bus, CapturingConsoleSink console, Uart16550 serial, DebugExitDevice debugExit)
    {
        Spec = spec;
        Memory = memory;
        LazyMemory = lazyMemory;
        Vm = vm;
        _vcpus = vcpus;
        Image = image;
        Boot = boot;
        Bus = bus;
        Console = console;
        Serial = serial;
        DebugExit = debugExit;
    }

    /// <summary>The spec the machine was built from.</summary>
    public MachineSpec Spec { get; }

    /// <summary>Guest RAM: guest-physical address N is offset N.</summary>
    public HostMemory Memory { get; }

    /// <summary>The lazy region of <see cref="MachineSpec.LazyMemory"/> (memslot <see cref="LazyMemorySpec.Slot"/>), or null.</summary>
    public LazyGuestMemory? LazyMemory { get; }

    /// <summary>The accelerator's VM.</summary>
    public IVirtualMachine Vm { get; }

    /// <summary>The vCPUs, by index.</summary>
    public IReadOnlyList<IVirtualCpu> Vcpus => _vcpus;

    /// <summary>Where the image was loaded and its entry point (after the spec's override).</summary>
    public LoadedImage Image { get; }

    /// <summary>The boot setup applied to memory and vCPUs (mode, entry, vCPU count).</summary>
    public BootSetup Boot { get; }

    /// <summary>The exit handler of every vCPU: register more devices here before running.</summary>
    public DeviceBus Bus { get; }

    /// <summary>Everything the guest printed on COM1.</summary>
    public CapturingConsoleSink Console { get; }

    /// <summary>The UART on COM1 (0x3f8).</summary>
    public Uart16550 Serial { get; }

    /// <summary>The debug-exit device on port 0xf4.</summary>
    public DebugExitDevice DebugExit { get; }

    /// <summary>
    /// Builds the machine. <paramref name="console"/>, if given, receives the guest's serial output in
    /// addition to <see cref="Console"/>. The faults of the spec's lazy memory go to <paramref name="lazyFaults"/>
    /// (the actor runtime's async page-fault machinery); without one a <see cref="SynchronousPageResolver"/> on the
    /// region's fault reader thread fills them from the spec's store.
    /// </summary>
    /// <exception cref="MachineSpecException">the spec is invalid.</exception>
    /// <exception cref="ImageLoadException">the image cannot be loaded or overlaps the boot structures.</exception>
    public static Machine Create(IAccelerator accelerator, MachineSpec spec, IConsoleSink? console = null, IPageFaultSink? lazyFaults = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        var mode = spec.EffectiveBootMode;
        int vcpuCount = spec.EffectiveVcpuCount;

        HostMemory? memory = null;
        LazyGuestMemory? lazy = null;
        IVirtualMachine? vm = null;
        var vcpus = new List<IVirtualCpu>();
        try
        {
            memory = HostMemory.Allocate(spec.MemoryBytes, spec.MemoryBacking);
            var image = spec.Image.LoadInto(memory, spec.LoadAddress);
            foreach (var segment in image.Segments)
            {
                foreach (var (start, end, what) in GuestLayout.ReservedRanges(mode))
                {
                    if (segment.Overlaps(start, end))
                        throw new ImageLoadException(image.Name,
                            $"its bytes at [0x{segment.Address:x}, 0x{segment.End:x}) overlap {what} at [0x{start:x}, 0x{end:x}) ({mode} mode)");
                }
            }
            if (spec.Entry is { } entry) image = image with { Entry = entry };
            var boot = new BootSetup(mode, image.Entry, vcpuCount);
            boot.WriteTables(memory);

            vm = accelerator.CreateVm();
            vm.SetMemoryRegion(Memslot.For(0, 0, memory));
            if (spec.LazyMemory is { } lazySpec)
            {
                // Anonymous memory: userfaultfd's missing mode on shared memory needs a feature not every kernel has.
                lazy = LazyGuestMemory.Create(lazySpec.Size, lazyFaults ?? new SynchronousPageResolver(lazySpec.Store), name: "lazy-guest-ram");
                vm.SetMemoryRegion(lazy.ToMemslot(LazyMemorySpec.Slot, lazySpec.GuestPhysicalAddress));
            }
            for (int i = 0; i < vcpuCount; i++)
            {
                var vcpu = vm.CreateVcpu(i);
                vcpus.Add(vcpu);
                boot.Apply(vcpu);
            }

            var capture = new CapturingConsoleSink();
            IConsoleSink sink = console is null ? capture : new FanOutConsoleSink(capture, console);
            var bus = new DeviceBus();
            var serial = new Uart16550(sink);
            bus.RegisterPorts(Uart16550.Com1Port, Uart16550.PortCount, serial);
            var debugExit = new DebugExitDevice();
            bus.RegisterPorts(DebugExitDevice.DefaultPort, 1, debugExit);
            return new Machine(spec, memory, lazy, vm, [.. vcpus], image, boot, bus, capture, serial, debugExit);
        }
        catch
        {
            foreach (var v in vcpus) v.Dispose();
            vm?.Dispose();
            lazy?.Dispose();
            memory?.Dispose();
            throw;
        }
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
            _running = _vcpus.Length;
            _finished = new bool[_vcpus.Length];
        }

        var exits = new VcpuExit?[_vcpus.Length];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < _vcpus.Length; i++)
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
        try
        {
            while (!_stopRequested)
            {
                var exit = vcpu.Run(Bus);
                exits[index] = exit;
                if (exit is VcpuExit.Interrupted) continue; // a kick: the loop condition decides
                if (exit is VcpuExit.Hlt) break; // interrupts are off, nothing can wake this vCPU
                if (exit.IsFatal)
                {
                    RecordFatal($"vCPU {index}: {Describe(exit)}");
                    RequestStop(MachineOutcome.Failed, index);
                    break;
                }
                // A device returned Stop: debug-exit ends the guest; any other device ends the run too.
                RequestStop(DebugExit.HasExited ? MachineOutcome.Exited : MachineOutcome.Stopped, index);
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
        for (int i = 0; i < _vcpus.Length; i++)
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
        foreach (var vcpu in _vcpus) vcpu.Dispose();
        Vm.Dispose();
        LazyMemory?.Dispose();
        Memory.Dispose();
    }
}
