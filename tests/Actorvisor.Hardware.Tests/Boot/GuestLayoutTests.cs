using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Boot;

public sealed class GuestLayoutTests
{
    [Fact]
    public void Regions_are_ordered_and_disjoint()
    {
        ulong[] boundaries =
        [
            GuestLayout.IvtBase, GuestLayout.GdtBase, GuestLayout.BootStacksBase, GuestLayout.BootStacksTop,
            GuestLayout.RealModeImageEnd, GuestLayout.PageTablesEnd, GuestLayout.ImageBase, GuestLayout.DataBase,
            GuestLayout.MaxRamBytes, GuestLayout.MmioWindowEnd,
        ];
        for (int i = 1; i < boundaries.Length; i++) Assert.True(boundaries[i - 1] < boundaries[i], $"boundary {i - 1} (0x{boundaries[i - 1]:x}) is not below boundary {i} (0x{boundaries[i]:x})");
        Assert.Equal(GuestLayout.BootStacksTop, GuestLayout.RealModeImageBase);
        Assert.Equal(GuestLayout.RealModeImageEnd, GuestLayout.Pml4Base);
        Assert.True(GuestLayout.TssBase + GuestLayout.TssLimit < GuestLayout.GdtBase + 0x1000);
        Assert.True(GuestLayout.GdtBase + BootGdt.Limit < GuestLayout.TssBase);
        Assert.Equal(GuestLayout.PdptBase + 0x1000, GuestLayout.PageDirectoriesBase);
        Assert.True(GuestLayout.MinRamBytes >= GuestLayout.PageTablesEnd);
        Assert.Equal(GuestLayout.MaxRamBytes, GuestLayout.MmioWindowBase);
    }

    [Fact]
    public void Every_vcpu_gets_its_own_stack_inside_the_stack_region()
    {
        Assert.Equal(24, GuestLayout.MaxVcpus);
        Assert.Equal(0x8000UL, GuestLayout.BootStackTop(0));
        Assert.Equal(0x7c00UL, GuestLayout.BootStackTop(1));
        var tops = Enumerable.Range(0, GuestLayout.MaxVcpus).Select(GuestLayout.BootStackTop).ToList();
        Assert.Equal(tops.Count, tops.Distinct().Count());
        Assert.All(tops, t => Assert.InRange(t - GuestLayout.BootStackSize, GuestLayout.BootStacksBase, GuestLayout.BootStacksTop));
        Assert.Throws<ArgumentOutOfRangeException>(() => GuestLayout.BootStackTop(GuestLayout.MaxVcpus));
    }

    [Fact]
    public void Default_load_addresses_follow_the_mode()
    {
        Assert.Equal(0x8000UL, GuestLayout.DefaultLoadAddress(BootMode.Real));
        Assert.Equal(0x100000UL, GuestLayout.DefaultLoadAddress(BootMode.Protected));
        Assert.Equal(0x100000UL, GuestLayout.DefaultLoadAddress(BootMode.Long));
        Assert.Empty(GuestLayout.ReservedRanges(BootMode.Real));
        Assert.Contains(GuestLayout.ReservedRanges(BootMode.Protected), r => r.Start == 0 && r.End == GuestLayout.BootStacksTop);
        Assert.Contains(GuestLayout.ReservedRanges(BootMode.Long), r => r.Start == GuestLayout.Pml4Base && r.End == GuestLayout.PageTablesEnd);
    }
}
