namespace Actorvisor.Hardware.Devices;

/// <summary>
/// Where a guest's console output (the bytes it transmits on its serial port) goes. Called on vCPU threads,
/// possibly from several at once: implementations must be thread-safe and must not block for long.
/// </summary>
public interface IConsoleSink
{
    /// <summary>Receives bytes the guest transmitted, in order.</summary>
    void Write(ReadOnlySpan<byte> bytes);
}
