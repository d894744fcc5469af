using Actorvisor.Actors.AsyncPf;
using Actorvisor.Actors.Vm;
using Actorvisor.Hardware.Lazy;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Actors.Tests.AsyncPf;

/// <summary>Bad lazy-memory specs and async-PF options are refused, naming the field.</summary>
public class LazyMemorySpecTests
{
    private static MachineSpec With(LazyMemorySpec lazy) => new() { Image = LazyGuests.Toucher(1, 1), MemoryBytes = 4UL << 20, LazyMemory = lazy };

    [Theory]
    [InlineData(0x20_0000UL, 0x1000UL, "LazyMemory.GuestPhysicalAddress")] // inside ordinary RAM
    [InlineData(0x4000_0800UL, 0x1000UL, "LazyMemory.GuestPhysicalAddress")] // not aligned
    [InlineData(0x4000_0000UL, 0x1800UL, "LazyMemory.Size")] // not a page multiple
    [InlineData(0x4000_0000UL, 0UL, "LazyMemory.Size")]
    [InlineData(0xBFFF_F000UL, 0x2000UL, "LazyMemory.Size")] // reaches into the MMIO window
    public void A_lazy_region_that_does_not_fit_is_refused_naming_the_field(ulong gpa, ulong size, string field)
    {
        var e = Assert.Throws<MachineSpecException>(() => With(new LazyMemorySpec(gpa, size, new ZeroBackingStore())).Validate());
        Assert.Equal(field, e.ParamName);
    }

    [Fact]
    public void A_lazy_region_without_a_store_is_refused()
    {
        var e = Assert.Throws<MachineSpecException>(() => With(new LazyMemorySpec(0x4000_0000, 0x1000, null!)).Validate());
        Assert.Equal("LazyMemory.Store", e.ParamName);
    }

    [Fact]
    public void A_region_right_below_the_mmio_window_is_accepted()
    {
        With(new LazyMemorySpec(GuestLayout.MmioWindowBase - 0x10000, 0x10000, new ZeroBackingStore())).Validate();
    }

    [Theory]
    [InlineData(-1, 32, 3, "PerVcpuLimit")]
    [InlineData(AsyncPfOptions.MaxPerVcpuLimit + 1, 32, 3, "PerVcpuLimit")]
    [InlineData(64, -1, 3, "ReadaheadPages")]
    [InlineData(64, 32, 0, "ReadAttempts")]
    public void Bad_async_pf_options_are_refused_naming_the_field(int limit, int readahead, int attempts, string field)
    {
        var options = new AsyncPfOptions { PerVcpuLimit = limit, ReadaheadPages = readahead, ReadAttempts = attempts };
        Assert.Equal(field, Assert.Throws<ArgumentOutOfRangeException>(options.Validate).ParamName);
        using var soft = new SoftAccelerator();
        Assert.Throws<ArgumentOutOfRangeException>(() => MachineVm.Spec("bad", soft, With(new LazyMemorySpec(0x4000_0000, 0x1000, new ZeroBackingStore())), asyncPf: options));
    }

    [Fact]
    public void The_defaults_are_async_pf_c_and_linux_readahead()
    {
        Assert.Equal(64, AsyncPfOptions.Default.PerVcpuLimit);
        Assert.Equal(32, AsyncPfOptions.Default.ReadaheadPages);
        Assert.Equal(0, AsyncPfOptions.SynchronousOnly.PerVcpuLimit);
    }
}
