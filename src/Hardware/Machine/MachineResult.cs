using Actorvisor.Hardware.Accel;

namespace Actorvisor.Hardware.Machines;

/// <summary>What a <see cref="Machine.Run"/> produced.</summary>
/// <param name="Outcome">How the run ended.</param>
/// <param name="VcpuExits">Each vCPU's last exit, by index (null if it never returned from Run).</param>
/// <param name="ResultCode">The low byte the guest wrote to the debug-exit port, or null.</param>
/// <param name="FatalReason">Why the run failed (which vCPU, which exit), or null.</param>
/// <param name="Elapsed">Wall-clock time from starting the vCPU threads until all of them stopped.</param>
/// <param name="ConsoleOutput">Everything the guest printed on its serial port.</param>
public sealed record MachineResult(
    MachineOutcome Outcome,
    IReadOnlyList<VcpuExit?> VcpuExits,
    int? ResultCode,
    string? FatalReason,
    TimeSpan Elapsed,
    string ConsoleOutput)
{
    /// <summary>True if the guest exited through debug-exit with result code 0.</summary>
    public bool Succeeded => Outcome == MachineOutcome.Exited && ResultCode == 0;

    /// <inheritdoc />
    public override string ToString() => Outcome switch
    {
        MachineOutcome.Exited => $"exited with result code {ResultCode} after {Elapsed.TotalMilliseconds:0.#} ms",
        MachineOutcome.Failed => $"failed after {Elapsed.TotalMilliseconds:0.#} ms: {FatalReason}",
        _ => $"{Outcome.ToString().ToLowerInvariant()} after {Elapsed.TotalMilliseconds:0.#} ms",
    };
}
