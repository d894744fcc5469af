using System.Runtime.CompilerServices;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Soft;

/// <summary>
/// Translates a guest linear address to a guest-physical one by walking the guest's page tables in
/// guest RAM (no paging; 32-bit with PSE; PAE; 4-level long mode), reading page-table entries straight
/// from the memslots' host memory. Accessed/dirty bits are left alone: QEMU sets them itself.
/// Unicorn 2.0.1's x86 TLB fill walks the page tables for faults and permissions but then maps every
/// linear page to the guest-physical page of the same number (excp_helper.c: "paddr = vaddr"), so on
/// the software accelerator guests must identity-map what they touch. The walk lets the vCPU tell a
/// fetch from MMIO (or a not-present page) from a mapping Unicorn would get wrong, and read guest
/// structures (IDT gates, the hlt) at linear addresses.
/// </summary>
internal static unsafe class GuestPageWalker
{
    private const ulong Present = 1, PageSize = 1 << 7;
    private const ulong AddressMask = 0x000F_FFFF_FFFF_F000;

    /// <summary>The paging registers a walk needs.</summary>
    public readonly record struct PagingState(ulong Cr0, ulong Cr3, ulong Cr4, ulong Efer);

    /// <summary>
    /// Translates <paramref name="linear"/>; false when a paging structure is not present or not in RAM
    /// (the CPU would raise #PF).
    /// </summary>
    public static bool TryTranslate(MemslotSet slots, in PagingState p, ulong linear, out ulong gpa)
    {
        gpa = 0;
        if ((p.Cr0 & ControlBits.Cr0Pg) == 0)
        {
            gpa = (p.Efer & ControlBits.EferLma) != 0 ? linear : linear & 0xFFFF_FFFF;
            return true;
        }
        if ((p.Efer & ControlBits.EferLma) != 0)
        {
            if (!Entry(slots, (p.Cr3 & AddressMask) + ((linear >> 39) & 511) * 8, out ulong pml4e)) return false;
            if (!Entry(slots, (pml4e & AddressMask) + ((linear >> 30) & 511) * 8, out ulong pdpte)) return false;
            if ((pdpte & PageSize) != 0) { gpa = (pdpte & AddressMask & ~0x3FFF_FFFFUL) | (linear & 0x3FFF_FFFF); return true; }
            return Lower(slots, pdpte, linear, out gpa);
        }
        linear &= 0xFFFF_FFFF;
        if ((p.Cr4 & ControlBits.Cr4Pae) != 0)
        {
            if (!Entry(slots, (p.Cr3 & 0xFFFF_FFE0) + ((linear >> 30) & 3) * 8, out ulong pdpte)) return false;
            return Lower(slots, pdpte, linear, out gpa);
        }
        if (!Entry32(slots, (p.Cr3 & 0xFFFF_F000) + ((linear >> 22) & 1023) * 4, out uint pde)) return false;
        if ((pde & PageSize) != 0 && (p.Cr4 & Cr4Pse) != 0)
        {
            // PSE-36: bits 13..20 of a 4 MiB PDE are physical address bits 32..39.
            gpa = (pde & 0xFFC0_0000UL) | ((ulong)((pde >> 13) & 0xFF) << 32) | (linear & 0x3F_FFFF);
            return true;
        }
        if (!Entry32(slots, (pde & 0xFFFF_F000UL) + ((linear >> 12) & 1023) * 4, out uint pte)) return false;
        gpa = (pte & 0xFFFF_F000UL) | (linear & 0xFFF);
        return true;
    }

    private const ulong Cr4Pse = 1 << 4;

    /// <summary>The page-directory and page-table levels shared by PAE and 4-level paging.</summary>
    private static bool Lower(MemslotSet slots, ulong pdpte, ulong linear, out ulong gpa)
    {
        gpa = 0;
        if (!Entry(slots, (pdpte & AddressMask) + ((linear >> 21) & 511) * 8, out ulong pde)) return false;
        if ((pde & PageSize) != 0) { gpa = (pde & AddressMask & ~0x1F_FFFFUL) | (linear & 0x1F_FFFF); return true; }
        if (!Entry(slots, (pde & AddressMask) + ((linear >> 12) & 511) * 8, out ulong pte)) return false;
        gpa = (pte & AddressMask) | (linear & 0xFFF);
        return true;
    }

    private static bool Entry(MemslotSet slots, ulong gpa, out ulong entry)
    {
        entry = 0;
        if (!slots.TryTranslate(gpa, 8, out nint host, out _)) return false;
        ulong e = 0;
        GuestMemoryAccess.CopyOut(host, new Span<byte>(&e, 8));
        entry = e;
        return (entry & Present) != 0;
    }

    private static bool Entry32(MemslotSet slots, ulong gpa, out uint entry)
    {
        entry = 0;
        if (!slots.TryTranslate(gpa, 4, out nint host, out _)) return false;
        uint e = 0;
        GuestMemoryAccess.CopyOut(host, new Span<byte>(&e, 4));
        entry = e;
        return (entry & Present) != 0;
    }

    /// <summary>Reads <paramref name="destination"/>.Length bytes of guest memory at a linear address; false if any byte is not RAM.</summary>
    public static bool TryReadLinear(MemslotSet slots, in PagingState p, ulong linear, Span<byte> destination)
    {
        for (int done = 0; done < destination.Length;)
        {
            ulong at = linear + (ulong)done;
            if (!TryTranslate(slots, p, at, out ulong gpa)) return false;
            int chunk = (int)Math.Min((ulong)(destination.Length - done), 0x1000 - (at & 0xFFF));
            if (!slots.TryTranslate(gpa, (ulong)chunk, out nint host, out _)) return false;
            GuestMemoryAccess.CopyOut(host, destination.Slice(done, chunk));
            done += chunk;
        }
        return true;
    }

    /// <summary>
    /// Writes <paramref name="source"/> to guest memory at a linear address, marking the pages dirty in
    /// <paramref name="mmu"/> (a write that bypasses the SPTEs, like KVM's kvm_write_guest); false, with nothing
    /// written, if any byte is not writable RAM. Returns in <paramref name="failedAt"/> the first linear address
    /// that could not be translated.
    /// </summary>
    public static bool TryWriteLinear(MemslotSet slots, in PagingState p, Mmu.SoftMmu mmu, ulong linear, ReadOnlySpan<byte> source, out ulong failedAt)
    {
        Span<(nint host, ulong gpa, int chunk)> pieces = stackalloc (nint, ulong, int)[2];
        int n = 0;
        failedAt = 0;
        for (int done = 0; done < source.Length;)
        {
            ulong at = linear + (ulong)done;
            int chunk = (int)Math.Min((ulong)(source.Length - done), 0x1000 - (at & 0xFFF));
            if (n == pieces.Length || !TryTranslate(slots, p, at, out ulong gpa)
                || !slots.TryTranslate(gpa, (ulong)chunk, out nint host, out var slot) || slot is { IsReadOnly: true })
            {
                failedAt = at;
                return false;
            }
            pieces[n++] = (host, gpa, chunk);
            done += chunk;
        }
        int offset = 0;
        for (int i = 0; i < n; i++)
        {
            GuestMemoryAccess.CopyIn(source.Slice(offset, pieces[i].chunk), pieces[i].host);
            mmu.MarkPageDirty(pieces[i].gpa);
            offset += pieces[i].chunk;
        }
        return true;
    }
}
