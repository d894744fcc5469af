using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Memory;
using Actorvisor.Hardware.Soft;
using Actorvisor.Hardware.X86;

namespace Actorvisor.Hardware.Tests.Images;

/// <summary><see cref="PcPlatformImage"/> and the images that ask for the PC platform: loaded unchanged, refused where only KVM could run them.</summary>
public sealed class PcPlatformImageTests
{
    [Fact]
    public void A_wrapped_multiboot_kernel_asks_for_the_pc_platform_and_loads_exactly_as_it_would_alone()
    {
        var kernel = BootProtocolGuests.MultibootInfoReporter();
        var wrapped = new PcPlatformImage(kernel);
        Assert.Equal(GuestPlatform.Minimal, ((IBootableImage)kernel).Platform);
        Assert.Equal(GuestPlatform.Pc, ((IBootableImage)wrapped).Platform);
        Assert.Equal((kernel.Name, kernel.BootMode, kernel.VcpuCount), (wrapped.Name, wrapped.BootMode, wrapped.VcpuCount));
        using var alone = HostMemory.Allocate(32UL << 20);
        using var inWrapper = HostMemory.Allocate(32UL << 20);
        var a = kernel.LoadInto(alone);
        var b = wrapped.LoadInto(inWrapper);
        Assert.Equal(a.Entry, b.Entry);
        Assert.Equal(a.Handoff, b.Handoff);
        Assert.True(alone.Span(0, 4 << 20).SequenceEqual(inWrapper.Span(0, 4 << 20)));
    }

    [Fact]
    public void The_probe_kernel_is_a_pc_platform_multiboot_image_the_software_accelerator_refuses()
    {
        var probe = PcPlatformProbe.Image();
        Assert.Equal(GuestPlatform.Pc, ((IBootableImage)probe).Platform);
        Assert.Equal(ImageFormat.Multiboot, probe.Format);
        Assert.Equal(0, MultibootHeader.FindMagic(probe.Bytes.Span));
        using var soft = new SoftAccelerator();
        var e = Assert.Throws<MachineSpecException>(() => Machine.Create(soft, new MachineSpec { Image = probe }));
        Assert.Contains("needs the PC platform", e.Message);
    }
}
