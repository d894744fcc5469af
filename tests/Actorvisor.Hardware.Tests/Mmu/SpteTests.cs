using Actorvisor.Hardware.Mmu;

namespace Actorvisor.Hardware.Tests.Mmu;

public class SpteTests
{
    [Fact]
    public void Bit_layout_follows_ept_and_kvm_software_bits()
    {
        Assert.Equal(1UL << 0, (ulong)SpteFlags.Present);
        Assert.Equal(1UL << 1, (ulong)SpteFlags.Writable);
        Assert.Equal(1UL << 2, (ulong)SpteFlags.Executable);
        Assert.Equal(1UL << 8, (ulong)SpteFlags.Accessed);
        Assert.Equal(1UL << 9, (ulong)SpteFlags.Dirty);
        Assert.Equal(1UL << 54, (ulong)SpteFlags.SavedPresent);
        Assert.Equal(1UL << 56, (ulong)SpteFlags.SavedExecutable);
        // No flag overlaps the frame bits.
        ulong all = Enum.GetValues<SpteFlags>().Aggregate(0UL, (a, f) => a | (ulong)f);
        Assert.Equal(0UL, all & Spte.PfnMask);
    }

    [Fact]
    public void Frame_round_trips_and_host_address_is_the_frame_shifted()
    {
        var s = Spte.Make(0x7f12_3456_7, SpteFlags.Present | SpteFlags.Writable);
        Assert.Equal(0x7f12_3456_7UL, s.Pfn);
        Assert.Equal(0x7f12_3456_7000L, (long)s.HostAddress);
        Assert.Equal(SpteFlags.Present | SpteFlags.Writable, s.Flags);
    }

    [Fact]
    public void Frame_too_large_is_refused_naming_the_parameter()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Spte.Make(1UL << 40, SpteFlags.Present));
        Assert.Equal("pfn", e.ParamName);
    }

    [Fact]
    public void Permits_checks_the_bit_of_each_access_kind()
    {
        var ro = Spte.Make(1, SpteFlags.Present | SpteFlags.Executable);
        Assert.True(ro.Permits(MmuAccess.Read));
        Assert.True(ro.Permits(MmuAccess.Execute));
        Assert.False(ro.Permits(MmuAccess.Write));
        Assert.True(ro.With(SpteFlags.Writable).Permits(MmuAccess.Write));
        Assert.False(Spte.Empty.Permits(MmuAccess.Read));
    }

    [Fact]
    public void Access_tracking_saves_r_and_x_drops_w_and_a_and_keeps_the_rest()
    {
        var s = Spte.Make(0x1234, SpteFlags.Present | SpteFlags.Writable | SpteFlags.Executable | SpteFlags.Accessed
            | SpteFlags.Dirty | SpteFlags.HostWritable | SpteFlags.MmuWritable);
        var t = s.ToAccessTracked();
        Assert.True(t.IsAccessTracked);
        Assert.False(t.IsPresent);
        Assert.False(t.IsWritable);
        Assert.False(t.IsExecutable);
        Assert.False(t.IsAccessed);
        Assert.True(t.Has(SpteFlags.SavedPresent | SpteFlags.SavedExecutable));
        Assert.True(t.IsDirty && t.IsHostWritable && t.IsMmuWritable);
        Assert.Equal(0x1234UL, t.Pfn);
        Assert.False(t.Permits(MmuAccess.Read));

        var r = t.RestoreFromAccessTrack();
        Assert.Equal(s.Without(SpteFlags.Writable), r);   // W is not saved (locking.rst), everything else is back
    }

    [Fact]
    public void Fast_write_needs_both_host_and_mmu_writable()
    {
        Assert.True(Spte.Make(1, SpteFlags.Present | SpteFlags.HostWritable | SpteFlags.MmuWritable).CanFastWrite);
        Assert.False(Spte.Make(1, SpteFlags.Present | SpteFlags.HostWritable).CanFastWrite);
        Assert.False(Spte.Make(1, SpteFlags.Present | SpteFlags.MmuWritable).CanFastWrite);
    }
}
