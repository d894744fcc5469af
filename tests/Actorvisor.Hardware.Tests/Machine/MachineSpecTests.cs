using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Machines;

public sealed class MachineSpecTests
{
    private static MachineSpec Hello => new() { Image = GuestLibrary.Hello() };

    private static void AssertInvalid(MachineSpec spec, string field, string fragment)
    {
        var e = Assert.Throws<MachineSpecException>(spec.Validate);
        Assert.Equal(field, e.ParamName);
        Assert.StartsWith($"MachineSpec.{field}:", e.Message);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Defaults_come_from_the_image()
    {
        var spec = new MachineSpec { Image = GuestLibrary.TwoVcpuWriter() };
        spec.Validate();
        Assert.Equal(2, spec.EffectiveVcpuCount);
        Assert.Equal(BootMode.Protected, spec.EffectiveBootMode);
        Assert.Equal(MachineSpec.DefaultMemoryBytes, spec.MemoryBytes);
        Assert.Equal(BootMode.Long, (spec with { BootMode = BootMode.Long }).EffectiveBootMode);
    }

    [Fact]
    public void Memory_size_is_checked()
    {
        AssertInvalid(Hello with { MemoryBytes = 0 }, "MemoryBytes", "multiple of 4 KiB");
        AssertInvalid(Hello with { MemoryBytes = (16UL << 20) + 1 }, "MemoryBytes", "multiple of 4 KiB");
        AssertInvalid(Hello with { MemoryBytes = 0x80000 }, "MemoryBytes", "minimum");
        AssertInvalid(Hello with { MemoryBytes = 4UL << 30 }, "MemoryBytes", "maximum");
        AssertInvalid(new MachineSpec { Image = GuestLibrary.MemoryWriter(4096), MemoryBytes = 8UL << 20 }, "MemoryBytes", "memory-writer");
        (Hello with { MemoryBytes = GuestLayout.MaxRamBytes }).Validate();
    }

    [Fact]
    public void Vcpu_count_is_checked()
    {
        AssertInvalid(Hello with { VcpuCount = 0 }, "VcpuCount", "outside 1..24");
        AssertInvalid(Hello with { VcpuCount = 25 }, "VcpuCount", "outside 1..24");
        AssertInvalid(new MachineSpec { Image = GuestLibrary.TwoVcpuWriter(), VcpuCount = 1 }, "VcpuCount", "needs 2 vCPUs");
        (Hello with { VcpuCount = 4 }).Validate();
    }

    [Fact]
    public void Entry_and_load_address_overrides_are_checked()
    {
        AssertInvalid(Hello with { Entry = 64UL << 20 }, "Entry", "outside guest RAM");
        AssertInvalid(Hello with { Entry = 0x10000 }, "Entry", "real mode");
        AssertInvalid(Hello with { LoadAddress = 64UL << 20 }, "LoadAddress", "outside guest RAM");
        (Hello with { BootMode = BootMode.Protected, Entry = 0x10000 }).Validate();
        AssertInvalid(Hello with { BootMode = (BootMode)7 }, "BootMode", "not a boot mode");
    }

    [Fact]
    public void An_image_is_required()
    {
        AssertInvalid(new MachineSpec { Image = null! }, "Image", "required");
    }
}
