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
/// </summary>
internal sealed class RunningGuest : IMigratingVm, IDisposable
{
    private readonly CapturingConsoleSink _console;
    private readonly LineCounter _handler;
    private Task<VcpuExit?> _loop = Task.FromResult<VcpuExit?>(null);
    private volatile bool _pauseRequested;

    public RunningGuest(string name, MachineParts parts, CapturingConsoleSink console)
    {
        Name = name;
        Parts = parts;
        _console = console;
        _handler = new LineCounter(parts.Bus, console);
    }

    public string Name { get; }

    public MachineParts Parts { get; }

    /// <summary>Guest memory (memslot 0) at the last pause.</summary>
    public byte[]? MemoryAtPause { get; private set; }

    /// <summary>The console at the last pause.</summary>
    public string ConsoleAtPause { get; private set; } = "";

    public int Pauses { get; private set; }

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
            if (exit is VcpuExit.PortIo { Port: DebugExitDevice.DefaultPort }) return exit;
            throw new InvalidOperationException($"unexpected exit {exit}; console: {_console.Text}");
        }
        return null;
    }

    public void Dispose()
    {
        _pauseRequested = true;
        Parts.Vcpus[0].Kick();
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
    private sealed class LineCounter(DeviceBus bus, CapturingConsoleSink console) : IExitHandler
    {
        private readonly List<(int Lines, TaskCompletionSource Done)> _waits = [];

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
            if (port == GuestLibrary.PortIoLoopPort) Check();
            return action;
        }

        public ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data) => bus.OnMmio(gpa, isWrite, data);

        private void Check()
        {
            lock (_waits)
            {
                if (_waits.Count == 0) return;
                int lines = console.Text.Count(c => c == '\n');
                foreach (var w in _waits.Where(w => w.Lines <= lines).ToList())
                {
                    w.Done.TrySetResult();
                    _waits.Remove(w);
                }
            }
        }
    }
}
