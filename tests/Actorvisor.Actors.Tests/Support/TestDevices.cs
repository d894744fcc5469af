using Actorvisor.Hardware.Accel;
using Actorvisor.Hardware.Devices;

namespace Actorvisor.Actors.Tests.Support;

/// <summary>A device whose port handler throws: a buggy device on the vCPU thread's exit path.</summary>
public sealed class ExplodingDevice : IPortIoDevice
{
    /// <inheritdoc />
    public string Name => "exploding";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data) =>
        throw new InvalidOperationException("the exploding device exploded");
}

/// <summary>
/// A device that holds the vCPU thread inside its handler (a slow device) until released: the thread is in its
/// memslot read side the whole time. Disposable, so its release is observable.
/// </summary>
public sealed class GateDevice : IPortIoDevice, IDisposable
{
    /// <summary>Set when a vCPU thread is inside the handler.</summary>
    public ManualResetEventSlim Entered { get; } = new();

    /// <summary>Set by the test to let the vCPU thread go on.</summary>
    public ManualResetEventSlim Open { get; } = new();

    /// <summary>True once disposed (released by the VM).</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>
    /// Called on the vCPU thread as it leaves the handler, still inside: a test records there what was already
    /// released, which shows a teardown that did not wait for the thread however late the test looks.
    /// </summary>
    public Action? Leaving { get; set; }

    /// <inheritdoc />
    public string Name => "gate";

    /// <inheritdoc />
    public ExitAction OnPortIo(ushort offset, IoDirection direction, Span<byte> data)
    {
        Entered.Set();
        // Only bounds a test that never opens it; opening is an event the test awaits nothing for.
        if (!Open.Wait(TimeSpan.FromSeconds(300))) throw new TimeoutException("the gate was never opened");
        Leaving?.Invoke();
        return ExitAction.Continue;
    }

    /// <inheritdoc />
    public void Dispose() => IsDisposed = true;
}

/// <summary>A disposable that records that it was disposed (the backing of a memslot).</summary>
public sealed class DisposalFlag : IDisposable
{
    private readonly IDisposable? _inner;

    /// <summary>Wraps <paramref name="inner"/>, disposing it too.</summary>
    public DisposalFlag(IDisposable? inner = null) => _inner = inner;

    /// <summary>Set when disposed.</summary>
    public ManualResetEventSlim Disposed { get; } = new();

    /// <inheritdoc />
    public void Dispose()
    {
        _inner?.Dispose();
        Disposed.Set();
    }
}
