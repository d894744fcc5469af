using Actorvisor.Hardware.Memory;

namespace Actorvisor.Actors.Memslots;

/// <summary>
/// Copies guest-physical memory out of a memslot snapshot (kvm_read_guest: slot by slot, a range may span
/// adjacent slots). The caller must keep the snapshot's backings mapped while it copies: the MemslotSetActor does,
/// since only it releases removed slots' backings and guest RAM is unmapped only after it retired every slot.
/// </summary>
internal static unsafe class GuestMemoryReader
{
    /// <summary>
    /// Fills <paramref name="destination"/> from [<paramref name="gpa"/>, + its length) of <paramref name="slots"/>.
    /// Returns null, or the first guest-physical address no slot holds (then <paramref name="destination"/> is partly filled).
    /// </summary>
    public static ulong? TryCopy(MemslotSet slots, ulong gpa, Span<byte> destination)
    {
        ulong total = (ulong)destination.Length;
        ulong done = 0;
        while (done < total)
        {
            ulong at = gpa + done;
            if (slots.Find(at) is not { } slot) return at;
            // A slot never ends past 2^64 - 1 (Memslot refuses ranges that wrap), so 'at' cannot wrap either.
            ulong n = Math.Min(total - done, slot.End - at);
            // Native copy: the slot may be lazy memory with missing pages (see GuestMemoryAccess).
            GuestMemoryAccess.CopyOut(slot.HostAddressOf(at), destination.Slice((int)done, (int)n));
            done += n;
        }
        return null;
    }

    /// <summary>The ranges <paramref name="slots"/> back, for messages: "[0x0, 0x400000), [0x40000000, 0x40010000)".</summary>
    public static string Describe(MemslotSet slots) =>
        slots.Count == 0 ? "none" : string.Join(", ", slots.Slots.Select(s => $"[0x{s.GuestPhysAddr:x}, 0x{s.End:x})"));
}
