using System.Buffers.Binary;
using System.Security.Cryptography;
using Actorvisor.Hardware.Kvm.Abi;
using Actorvisor.Hardware.Snapshots;

namespace Actorvisor.Hardware.Kvm;

/// <summary>
/// The saved VM-wide state of a KVM VM, as a versioned state blob: tag "KVMP", <see cref="Version"/>, the sizes of
/// kvm_irqchip, kvm_pit_state2 and kvm_clock_data (other sizes are refused), whether the PC chipset exists, then, if
/// it does, the master PIC, slave PIC, IOAPIC and PIT2, then the kvmclock; a SHA-256 of all of it closes the blob.
/// Restore sets the clock first (as saved: the REALTIME flag is cleared so the clock does not jump by the time the
/// snapshot spent on disk), then the three irqchips, then the PIT (whose re-armed timer then ticks into the saved
/// chips); a machine restore loads it after the vCPUs' state and before any vCPU runs (SnapshotRestore).
/// </summary>
public static class KvmPlatformState
{
    /// <summary>The state blob tag.</summary>
    public const string Tag = "KVMP";
    /// <summary>The layout version this build writes and reads.</summary>
    public const uint Version = 1;
    private const int DigestSize = 32;
    // kvm_clock_data.flags: at byte 8, after the 64-bit clock.
    private const int ClockFlagsOffset = 8;

    private static readonly (string Name, int Size)[] Parts =
    [
        ("kvm_irqchip", KvmStateSizes.Irqchip),
        ("kvm_pit_state2", KvmStateSizes.PitState2),
        ("kvm_clock_data", KvmStateSizes.ClockData),
    ];

    private static readonly uint[] Chips = [KvmStateSizes.IrqchipPicMaster, KvmStateSizes.IrqchipPicSlave, KvmStateSizes.IrqchipIoapic];

    /// <summary>Reads the VM's chipset (when <paramref name="pcChipset"/>) and clock.</summary>
    public static byte[] Save(VmFd vm, bool pcChipset)
    {
        ArgumentNullException.ThrowIfNull(vm);
        var w = new StateBlobWriter(Tag, Version);
        foreach (var (_, size) in Parts) w.U32((uint)size);
        w.Bool(pcChipset);
        if (pcChipset)
        {
            foreach (uint chip in Chips) w.Bytes(vm.GetIrqchip(chip));
            w.Bytes(vm.GetPit2());
        }
        w.Bytes(vm.GetClock());
        var body = w.ToArray();
        var blob = new byte[body.Length + DigestSize];
        body.CopyTo(blob, 0);
        SHA256.HashData(body, blob.AsSpan(body.Length));
        return blob;
    }

    /// <summary>Loads a blob <see cref="Save"/> produced into <paramref name="vm"/>, which must have the PC chipset exactly when the saved VM had.</summary>
    /// <exception cref="FormatException">another tag or version, other struct sizes, a truncated or corrupted blob.</exception>
    /// <exception cref="InvalidOperationException">the blob has a chipset and the VM not, or the other way round.</exception>
    public static void Restore(VmFd vm, bool pcChipset, ReadOnlySpan<byte> state)
    {
        ArgumentNullException.ThrowIfNull(vm);
        const string what = "KVM VM platform state";
        if (state.Length < DigestSize + 8) throw new FormatException($"{what}: {state.Length} bytes is too short");
        var body = state[..^DigestSize];
        var r = new StateBlobReader(body, Tag, Version, what);
        Span<byte> digest = stackalloc byte[DigestSize];
        SHA256.HashData(body, digest);
        if (!digest.SequenceEqual(state[^DigestSize..]))
            throw new FormatException($"{what}: the SHA-256 at the end does not match the {body.Length} bytes before it (corrupted)");
        foreach (var (name, size) in Parts)
        {
            uint stored = r.U32();
            if (stored != size) throw new FormatException($"{what}: {name} is {stored} bytes in the state, this build uses {size} (another kernel ABI or layout)");
        }
        bool savedChipset = r.Bool();
        if (savedChipset != pcChipset)
            throw new InvalidOperationException($"{what}: the saved VM {(savedChipset ? "had" : "had no")} PC chipset, this VM {(pcChipset ? "has one" : "has none")}; create it the same way before restoring");
        var chips = new byte[Chips.Length][];
        byte[]? pit = null;
        if (savedChipset)
        {
            for (int i = 0; i < chips.Length; i++) chips[i] = Part(ref r, 0, what).ToArray();
            pit = Part(ref r, 1, what).ToArray();
        }
        var clock = Part(ref r, 2, what).ToArray();
        r.End();

        BinaryPrimitives.WriteUInt32LittleEndian(clock.AsSpan(ClockFlagsOffset), 0);
        vm.SetClock(clock);
        // The chips before the PIT: KVM_SET_PIT2 re-arms channel 0, whose next tick must land on the saved PIC and IOAPIC.
        if (savedChipset)
            foreach (var chip in chips) vm.SetIrqchip(chip);
        if (pit is not null) vm.SetPit2(pit);
    }

    private static ReadOnlySpan<byte> Part(ref StateBlobReader r, int index, string what)
    {
        var bytes = r.Bytes();
        var (name, size) = Parts[index];
        if (bytes.Length != size) throw new FormatException($"{what}: {name} holds {bytes.Length} bytes, the header says {size}");
        return bytes;
    }
}
