using Actorvisor.Host.Scenarios.Language;
using Actorvisor.Host.Scenarios.Parsing;
using Actorvisor.Host.Scenarios.Running;

namespace Actorvisor.Host.Scenarios.Steps;

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

/// <summary>The <c>expect-memory</c> step: reads a range of the VM's RAM and compares its checksum.</summary>
internal sealed class ExpectMemoryKind() : StepKind<ExpectMemoryStep>("expect-memory")
{
    /// <inheritdoc />
    public override bool RunsOnCluster => false;

    /// <inheritdoc />
    public override Step? Parse(StepSyntax syntax)
    {
        var f = syntax.Fields("vm", "address", "length", "sum32", "sha256");
        if (f is null) return null;
        var vm = f.String("vm", required: true);
        var address = f.Number("address", required: true);
        var length = f.Size("length", required: true);
        string? expected;
        ChecksumAlgorithm algorithm;
        if (f.Has("sum32") == f.Has("sha256"))
        {
            syntax.Error("expect-memory: give exactly one checksum: 'sum32' (8 hex digits) or 'sha256' (64 hex digits)");
            return null;
        }
        if (f.Has("sum32"))
        {
            algorithm = ChecksumAlgorithm.Sum32;
            expected = HexDigits(f, "sum32", 8);
        }
        else
        {
            algorithm = ChecksumAlgorithm.Sha256;
            expected = HexDigits(f, "sha256", 64);
        }
        if (vm is null || address is null || length is null || expected is null) return null;
        return new ExpectMemoryStep(syntax.At, vm, address.Value, length.Value, algorithm, expected);
    }

    // A hex checksum: "0x" optional, case-insensitive, left-padded with zeros to the algorithm's width.
    private static string? HexDigits(Fields f, string key, int width)
    {
        var text = f.String(key);
        if (text is null) return null;
        var digits = text.Trim();
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
        digits = digits.Replace("_", "");
        if (digits.Length == 0 || digits.Length > width || !digits.All(char.IsAsciiHexDigit))
        {
            f.Error(key, $"must be at most {width} hex digits, got '{text}'");
            return null;
        }
        return digits.ToLowerInvariant().PadLeft(width, '0');
    }

    /// <inheritdoc />
    protected override string? VmOf(ExpectMemoryStep step) => step.Vm;

    /// <inheritdoc />
    protected override void Validate(ExpectMemoryStep m, StepCheck check)
    {
        if (!check.Memory.TryGetValue(m.Vm, out var ram)) return;
        if (m.Length == 0) check.Error(m.Location, "expect-memory: 'length' must be greater than 0");
        else if (m.Length > ExpectMemoryStep.MaxLength) check.Error(m.Location, $"expect-memory: 'length' 0x{m.Length:x} is more than the limit of 0x{ExpectMemoryStep.MaxLength:x} (64 MiB)");
        else if (m.Address >= ram || m.Length > ram - m.Address)
            check.Error(m.Location, $"expect-memory: [0x{m.Address:x}, 0x{m.Address + m.Length:x}) is not inside vm '{m.Vm}''s RAM [0, 0x{ram:x})");
        if (m.Algorithm == ChecksumAlgorithm.Sum32 && m.Length % 4 != 0)
            check.Error(m.Location, $"expect-memory: sum32 adds dwords, so 'length' must be a multiple of 4 (got {m.Length})");
    }

    /// <inheritdoc />
    protected override async Task<StepOutcome> RunAsync(ExpectMemoryStep step, ScenarioRun run, StepContext context)
    {
        var vm = run.Vm(step.Vm, step);
        var bytes = await vm.ReadMemoryAsync(step.Address, step.Length, context.CancellationToken).ConfigureAwait(false);
        var actual = Checksums.Compute(step.Algorithm, bytes);
        if (actual != step.Expected)
            throw new StepFailedException(new StepFailure(
                $"{step.Algorithm.ToString().ToLowerInvariant()} of {step.Vm}'s RAM [0x{step.Address:x}, 0x{step.Address + step.Length:x}) differs",
                step.Expected, actual, step.Vm, vm.Observation.SerialTail()));
        return StepOutcome.Saw($"{step.Algorithm.ToString().ToLowerInvariant()} {actual}");
    }
}
