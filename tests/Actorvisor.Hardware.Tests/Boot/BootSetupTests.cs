using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Boot;

public sealed class BootSetupTests
{
    // The register state KVM reports for a fresh vCPU (the x86 reset state), as the starting point.
    private static SpecialRegisters ResetState() => new()
    {
        Cs = new Segment { Base = 0xffff0000, Limit = 0xffff, Selector = 0xf000, Type = 0xb, Present = true, S = true },
        Ds = Segment.RealMode(0, false), Es = Segment.RealMode(0, false), Fs = Segment.RealMode(0, false),
        Gs = Segment.RealMode(0, false), Ss = Segment.RealMode(0, false),
        Tr = new Segment { Limit = 0xffff, Type = 0xb, Present = true },
        Ldt = new Segment { Limit = 0xffff, Type = 0x2, Present = true },
        Gdt = new DescriptorTable(0, 0xffff), Idt = new DescriptorTable(0, 0xffff),
        Cr0 = 0x6000_0010, ApicBase = 0xfee0_0900,
    };

    [Fact]
    public void Gdt_descriptors_have_the_well_known_encodings()
    {
        Assert.Equal(0x00CF_9B00_0000_FFFFUL, BootGdt.Encode(BootGdt.Code32));
        Assert.Equal(0x00CF_9300_0000_FFFFUL, BootGdt.Encode(BootGdt.Data));
        Assert.Equal(0x00AF_9B00_0000_FFFFUL, BootGdt.Encode(BootGdt.Code64));
        Assert.Equal(0x0000_8B00_1080_0067UL, BootGdt.Encode(BootGdt.Tss));
        var gdt = BootGdt.Build();
        Assert.Equal(BootGdt.Limit + 1, gdt.Length);
        Assert.Equal(0UL, BitConverter.ToUInt64(gdt, 0));
        Assert.Equal(BootGdt.Encode(BootGdt.Code64), BitConverter.ToUInt64(gdt, BootGdt.Code64Selector));
    }

    [Fact]
    public void Real_mode_starts_at_the_entry_with_flat_zero_segments()
    {
        var boot = new BootSetup(BootMode.Real, 0x8000, 2);
        var s = boot.SpecialRegistersFor(ResetState());
        foreach (var seg in new[] { s.Cs, s.Ds, s.Es, s.Fs, s.Gs, s.Ss })
        {
            Assert.Equal(0UL, seg.Base);
            Assert.Equal((ushort)0, seg.Selector);
            Assert.Equal(0xffffu, seg.Limit);
        }
        Assert.Equal(0UL, s.Cr0 & (ControlBits.Cr0Pe | ControlBits.Cr0Pg));
        Assert.Equal(0UL, s.Efer);
        Assert.Equal(new DescriptorTable(0, 0x3ff), s.Idt);
        Assert.Equal(0xfee0_0900UL, s.ApicBase);

        var r = boot.RegistersFor(1);
        Assert.Equal(0x8000UL, r.Rip);
        Assert.Equal(0x7c00UL, r.Rsp);
        Assert.Equal(1UL, r.Rdi);
        Assert.Equal(2UL, r.Rsi);
        Assert.Equal(2UL, r.Rflags);
        Assert.Equal(0UL, r.Rax | r.Rbx | r.Rcx | r.Rdx | r.Rbp | r.R8 | r.R15);
    }

    [Fact]
    public void Protected_mode_uses_the_flat_gdt_segments_without_paging()
    {
        var boot = new BootSetup(BootMode.Protected, 0x100000);
        var s = boot.SpecialRegistersFor(ResetState());
        Assert.Equal(BootGdt.Code32Selector, s.Cs.Selector);
        Assert.True(s.Cs.Db);
        Assert.False(s.Cs.L);
        Assert.Equal(0xffff_ffffu, s.Cs.Limit);
        Assert.All(new[] { s.Ds, s.Es, s.Fs, s.Gs, s.Ss }, d => Assert.Equal(BootGdt.Data, d));
        Assert.Equal(BootGdt.Tss, s.Tr);
        Assert.Equal(new DescriptorTable(GuestLayout.GdtBase, BootGdt.Limit), s.Gdt);
        Assert.Equal((ushort)0, s.Idt.Limit);
        Assert.NotEqual(0UL, s.Cr0 & ControlBits.Cr0Pe);
        Assert.Equal(0UL, s.Cr0 & ControlBits.Cr0Pg);
        Assert.Equal(0UL, s.Efer);
    }

    [Fact]
    public void Long_mode_enables_paging_pae_and_efer_with_a_64_bit_code_segment()
    {
        var boot = new BootSetup(BootMode.Long, 0x100000);
        var s = boot.SpecialRegistersFor(ResetState());
        Assert.True(s.Cs.L);
        Assert.False(s.Cs.Db);
        Assert.Equal(BootGdt.Code64Selector, s.Cs.Selector);
        Assert.Equal(ControlBits.Cr0Pe | ControlBits.Cr0Pg, s.Cr0 & (ControlBits.Cr0Pe | ControlBits.Cr0Pg));
        Assert.NotEqual(0UL, s.Cr4 & ControlBits.Cr4Pae);
        Assert.Equal(ControlBits.EferLme | ControlBits.EferLma, s.Efer);
        Assert.Equal(GuestLayout.Pml4Base, s.Cr3);
        Assert.Equal(0xfee0_0900UL, s.ApicBase);
    }

    // Walks the 4-level tables BootSetup wrote, as the MMU would, and returns the physical address.
    private static ulong Translate(HostMemory ram, ulong cr3, ulong va)
    {
        ulong pml4e = ram.Read<ulong>(cr3 + ((va >> 39) & 0x1ff) * 8);
        Assert.True((pml4e & 1) != 0, $"PML4 entry for 0x{va:x} not present");
        ulong pdpte = ram.Read<ulong>((pml4e & 0x000f_ffff_ffff_f000) + ((va >> 30) & 0x1ff) * 8);
        Assert.True((pdpte & 1) != 0, $"PDPT entry for 0x{va:x} not present");
        Assert.True((pdpte & 0x80) == 0, "no 1 GiB pages expected");
        ulong pde = ram.Read<ulong>((pdpte & 0x000f_ffff_ffff_f000) + ((va >> 21) & 0x1ff) * 8);
        Assert.True((pde & 1) != 0, $"PD entry for 0x{va:x} not present");
        Assert.True((pde & 2) != 0, "pages must be writable");
        Assert.True((pde & 0x80) != 0, "2 MiB pages expected");
        return (pde & 0x000f_ffff_ffe0_0000) | (va & 0x1f_ffff);
    }

    [Fact]
    public void Long_mode_tables_identity_map_ram_and_the_mmio_window()
    {
        using var ram = HostMemory.Allocate(32UL << 20);
        var boot = new BootSetup(BootMode.Long, 0x100000);
        boot.WriteTables(ram);
        Assert.Equal(GuestLayout.PdptBase | 3, ram.Read<ulong>(GuestLayout.Pml4Base));
        Assert.Equal(0x83UL, ram.Read<ulong>(GuestLayout.PageDirectoriesBase));
        Assert.Equal(0x20_0083UL, ram.Read<ulong>(GuestLayout.PageDirectoriesBase + 8));
        foreach (ulong va in new ulong[] { 0, 0x8000, 0x10_0000, 0x123_4567, (32UL << 20) - 1, 0xd000_0004, 0xffff_ffff })
            Assert.Equal(va, Translate(ram, GuestLayout.Pml4Base, va));
        // Exactly 4 GiB mapped for small RAM: PDPT entry 4 is empty.
        Assert.Equal(0UL, ram.Read<ulong>(GuestLayout.PdptBase + 4 * 8));

        var gdt = new byte[BootGdt.Limit + 1];
        ram.Read(GuestLayout.GdtBase, gdt);
        Assert.Equal(BootGdt.Build(), gdt);
    }

    [Fact]
    public void Long_mode_tables_cover_ram_beyond_4_gib()
    {
        // MAP_NORESERVE: only the pages the tables touch are backed.
        using var ram = HostMemory.Allocate(6UL << 30);
        new BootSetup(BootMode.Long, 0x100000).WriteTables(ram);
        Assert.Equal(6, BootSetup.PageDirectoriesFor(ram.Size));
        ulong top = (6UL << 30) - 8;
        Assert.Equal(top, Translate(ram, GuestLayout.Pml4Base, top));
        Assert.Equal(0UL, ram.Read<ulong>(GuestLayout.PdptBase + 6 * 8));
    }

    [Fact]
    public void More_ram_than_the_table_region_can_map_is_refused()
    {
        Assert.Equal(4, BootSetup.PageDirectoriesFor(1UL << 20));
        Assert.Equal(64, BootSetup.PageDirectoriesFor(64UL << 30));
        Assert.Throws<ArgumentOutOfRangeException>(() => BootSetup.PageDirectoriesFor((64UL << 30) + 4096));
    }

    [Fact]
    public void Protected_mode_writes_the_gdt_and_real_mode_writes_nothing()
    {
        using var ram = HostMemory.Allocate(1UL << 20);
        new BootSetup(BootMode.Real, 0x8000).WriteTables(ram);
        Assert.True(ram.Span(0, 0x10_0000 - 1).IndexOfAnyExcept((byte)0) < 0);
        new BootSetup(BootMode.Protected, 0x100000 - 16).WriteTables(ram);
        Assert.Equal(BootGdt.Encode(BootGdt.Code32), ram.Read<ulong>(GuestLayout.GdtBase + BootGdt.Code32Selector));
        Assert.Equal(0UL, ram.Read<ulong>(GuestLayout.Pml4Base));
    }

    [Fact]
    public void Too_little_ram_for_the_tables_is_refused()
    {
        using var ram = HostMemory.Allocate(0x20000);
        var e = Assert.Throws<ArgumentException>(() => new BootSetup(BootMode.Long, 0x8000).WriteTables(ram));
        Assert.Equal("ram", e.ParamName);
    }

    [Fact]
    public void Unreachable_entries_and_bad_vcpu_counts_are_refused()
    {
        Assert.Equal("entry", Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Real, 0x10000)).ParamName);
        Assert.Equal("entry", Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Protected, 0x1_0000_0000)).ParamName);
        Assert.Equal("entry", Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Long, 0x0000_8000_0000_0000)).ParamName);
        Assert.Equal("vcpuCount", Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Real, 0x8000, 0)).ParamName);
        Assert.Equal("vcpuCount", Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Real, 0x8000, 25)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Real, 0x8000, 2).RegistersFor(2));
        _ = new BootSetup(BootMode.Long, 0xffff_ffff_8000_0000);
    }

    [Fact]
    public void A_handoff_sets_its_registers_and_stacks_for_every_vcpu()
    {
        var boot = new BootSetup(BootMode.Protected, 0x100020, 2, new BootHandoff { Rax = 0x2BADB002, Rbx = 0x8000, Rdx = 0x80, StackTop = 0x7c00 });
        var r0 = boot.RegistersFor(0);
        Assert.Equal((0x2BADB002UL, 0x8000UL, 0x80UL, 0x7c00UL, 0x100020UL), (r0.Rax, r0.Rbx, r0.Rdx, r0.Rsp, r0.Rip));
        Assert.Equal(0x7c00UL - GuestLayout.BootStackSize, boot.RegistersFor(1).Rsp);
        var plain = new BootSetup(BootMode.Protected, 0x100000).RegistersFor(0);
        Assert.Equal((0UL, 0UL, 0UL, GuestLayout.BootStacksTop), (plain.Rax, plain.Rbx, plain.Rdx, plain.Rsp));
    }

    [Fact]
    public void A_handoff_stack_without_room_for_every_vcpu_or_out_of_real_mode_reach_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Real, 0x500, 2, new BootHandoff { StackTop = 0x500 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BootSetup(BootMode.Real, 0x500, 1, new BootHandoff { StackTop = 0x10000 }));
    }

    [Theory]
    [InlineData(0x7c00UL, 0x7c00UL)]
    [InlineData(0x500UL, 0x500UL)]
    [InlineData(0x7c05UL, 0x7c00UL)]
    [InlineData(0x8000UL, 0x8000UL)]
    [InlineData(0x9000UL, 0x8000UL)]
    public void The_real_mode_stack_sits_below_a_low_image(ulong imageAt, ulong stackTop) =>
        Assert.Equal(stackTop, GuestLayout.RealModeStackTop(imageAt));
}
