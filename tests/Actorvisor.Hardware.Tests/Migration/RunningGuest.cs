using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Migration;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Tests.Migration;

/// <summary>
/// A machine whose vCPU 0 runs on a thread of its own until the guest exits, pausable from another thread: the
/// migration source of the tests. It records the guest memory as it was at each pause (what the target must hold).
/// The guest runs only up to the line the test allows (<see cref="Allow"/>; no limit by default): a test that needs
/// it still running after a migration on a loaded machine holds it at a line boundary instead of racing its end.
/// </summary>
internal sealed class RunningGuest : IMigratingVm, IDisposable
{
    private readonly CapturingConsoleSink _console;
    private readonly LineCounter _handler;
    private Task<VcpuExit?> _loop = Task.FromResult<VcpuExit?>(null);
    private volatile bool _pauseRequested;
    private readonly SemaphoreSlim _allowanceChanged = new(0);

    public RunningGuest(string name, MachineParts parts, CapturingConsoleSink console)
    {
        Name = name;
        Parts = parts;
        _console = console;
        _handler = new LineCounter(parts.Bus);
    }

    public string Name { get; }

    public MachineParts Parts { get; }

    /// <summary>Guest memory (memslot 0) at the last pause.</summary>
    public byte[]? MemoryAtPause { get; private set; }

    /// <summary>The console at the last pause.</summary>
    public string ConsoleAtPause { get; private set; } = "";

    public int Pauses { get; private set; }

    /// <summary>Lets the guest run until it has printed <paramref name="lines"/> lines (it stops at that line boundary).</summary>
    public void Allow(int lines)
    {
        _handler.Allowed = lines;
        _allowanceChanged.Release();
    }

    /// <summary>Completes when the guest has printed the given number of lines.</summary>
    public Task AfterLines(int lines) => _handler.After(lines);

    public void Start()
    {
        _pauseRequested = false;
        _loop = Task.Factory.StartNew(RunUntilExitOrPause, TaskCreationOptions.LongRunning);
    }

    /// <summary>The exit that ended the guest (its debug-exit port write), once it ends.</summary>
    public async Task<VcpuExit> Finished()
    {
        var exit = await _loop;
        return exit ?? throw new InvalidOperationException("the guest is paused, not finished");
    }

    public SnapshotContent Pause()
    {
        _pauseRequested = true;
        Parts.Vcpus[0].Kick();
        _allowanceChanged.Release();
        var exit = _loop.GetAwaiter().GetResult();
        if (exit is not null) throw new InvalidOperationException($"the guest ended ({exit}) before the pause; console: {_console.Text}");
        Pauses++;
        var memory = new byte[Parts.Memory.Size];
        Parts.Memory.Read(0, memory);
        MemoryAtPause = memory;
        ConsoleAtPause = _console.Text;
        return SnapshotContent.Of(Parts, Name);
    }

    public void Resume() => Start();

    private VcpuExit? RunUntilExitOrPause()
    {
        while (!_pauseRequested)
        {
            var exit = Parts.Vcpus[0].Run(_handler);
            if (exit is VcpuExit.Interrupted) continue;
            if (exit is VcpuExit.PortIo { Port: GuestLibrary.PortIoLoopPort })
            {
                // Held at a line boundary until the test allows more lines or pauses it.
                while (!_pauseRequested && _handler.AtAllowance) _allowanceChanged.Wait();
                continue;
            }
            if (exit is VcpuExit.PortIo { Port: DebugExitDevice.DefaultPort }) return exit;
            throw new InvalidOperationException($"unexpected exit {exit}; console: {_console.Text}");
        }
        return null;
    }

    public void Dispose()
    {
        _pauseRequested = true;
        Parts.Vcpus[0].Kick();
        _allowanceChanged.Release();
        try
        {
            _loop.Wait();
        }
        catch (AggregateException)
        {
            // The test already failed on it.
        }
        Parts.Dispose();
    }

    /// <summary>The machine's bus, which also completes the waits for a number of console lines.</summary>
    private sealed class LineCounter(DeviceBus bus) : IExitHandler
    {
        private readonly List<(int Lines, TaskCompletionSource Done)> _waits = [];
        private int _lines;

        /// <summary>The line count the guest may reach before it is held.</summary>
        public volatile int Allowed = int.MaxValue;

        /// <summary>True while the guest has printed as many lines as it is allowed.</summary>
        public bool AtAllowance => Volatile.Read(ref _lines) >= Allowed;

        public Task After(int lines)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waits) _waits.Add((lines, done));
            Check();
            return done.Task;
        }

        public ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data)
        {
            var action = bus.OnPortIo(port, direction, data);
            if (port != GuestLibrary.PortIoLoopPort) return action;
            Interlocked.Increment(ref _lines);
            Check();
            return AtAllowance ? ExitAction.Stop : action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);

        private void Check()
        {
            lock (_waits)
            {
                if (_waits.Count == 0) return;
                int lines = Volatile.Read(ref _lines);
                foreach (var w in _waits.Where(w => w.Lines <= lines).ToList())
                {
                    w.Done.TrySetResult();
                    _waits.Remove(w);
                }
            }
        }
    }
}
