namespace Actorvisor.Host.Scenarios.Language;

/// <summary>
/// <c>expect-memory</c>: the checksum of guest RAM [Address, Address + Length) equals <see cref="Expected"/>.
/// Read live through the VmActor (ReadGuestMemory) while the VM holds its memory, or from the copy taken when its
/// teardown released the devices (after the vCPUs stopped, before RAM was unmapped) once it has ended.
/// </summary>
/// <param name="Location">Where it was written.</param>
/// <param name="Vm">The VM.</param>
/// <param name="Address">Guest-physical start.</param>
/// <param name="Length">Bytes (a multiple of 4 for sum32).</param>
/// <param name="Algorithm">The checksum.</param>
/// <param name="Expected">Lower-case hex digits, no prefix.</param>
public sealed record ExpectMemoryStep(SourceLocation Location, string Vm, ulong Address, ulong Length, ChecksumAlgorithm Algorithm, string Expected) : Step(Location)
{
    /// <summary>The most bytes one expectation may checksum (a copy is kept for VMs that end).</summary>
    public const ulong MaxLength = 64UL << 20;

    /// <inheritdoc />
    public override string Keyword => "expect-memory";

    /// <inheritdoc />
    public override string Describe() =>
        $"expect {Algorithm.ToString().ToLowerInvariant()} of {Vm} [0x{Address:x}, 0x{Address + Length:x}) = {Expected}";
}
