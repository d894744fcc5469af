using Actorvisor.Hardware.Devices;
using Actorvisor.Hardware.Images.Linux;
using Actorvisor.Hardware.Machines;
using Actorvisor.Hardware.Soft;

namespace Actorvisor.Hardware.Tests.Images.Linux;

public sealed class LinuxOnSoftAcceleratorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-linux-soft-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_linux_kernel_on_the_software_accelerator_is_refused_with_the_reason()
    {
        var kernel = Path.Combine(_dir, "bzImage");
        File.WriteAllBytes(kernel, new TestBzImage().Build());
        using var accel = new SoftAccelerator();
        var spec = new MachineSpec { Image = new LinuxKernelImage(kernel), MemoryBytes = 64UL << 20 };
        var e = Assert.Throws<MachineSpecException>(() => MachineParts.Build(accel, spec, new CapturingConsoleSink()));
        Assert.Contains("only KVM provides", e.Message);
        Assert.Contains(kernel, e.Message);
    }
}
