namespace Actorvisor.Hardware.Accel;

/// <summary>
/// Handles the exits a vCPU can absorb without leaving its run loop: port I/O and MMIO. Implemented by
/// the device bus. Called on the vCPU thread; must not block for long.
/// </summary>
public interface IExitHandler
{
    /// <summary>
    /// A port I/O access of <c>data.Length</c> bytes (1, 2 or 4). For <see cref="IoDirection.In"/> the handler
    /// fills <paramref name="data"/>; for Out it reads it.
    /// </summary>
    ExitAction OnPortIo(ushort port, IoDirection direction, Span<byte> data);

    /// <summary>
    /// An access of <c>data.Length</c> bytes to a guest-physical address with no RAM behind it (or a write to
    /// a read-only slot). For reads the handler fills <paramref name="data"/>.
    /// </summary>
    ExitAction OnMmio(ulong gpa, bool isWrite, Span<byte> data);
}

/// <summary>What the vCPU does after an exit handler returns.</summary>
public enum ExitAction
{
    /// <summary>Resume the guest.</summary>
    Continue,
    /// <summary>Return from <see cref="IVirtualCpu.Run"/> with this exit.</summary>
    Stop,
}

/// <summary>Direction of a port I/O access.</summary>
public enum IoDirection
{
    /// <summary>IN: the guest reads from the port.</summary>
    In,
    /// <summary>OUT: the guest writes to the port.</summary>
    Out,
}
