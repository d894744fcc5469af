using Actorvisor.Hardware.Kvm;

namespace Actorvisor.Hardware.Tests.Kvm;

public class KvmFlavorTests : IDisposable
{
    private readonly string _sys = Directory.CreateTempSubdirectory("sysmodule").FullName;

    public void Dispose() => Directory.Delete(_sys, recursive: true);

    [Theory]
    [InlineData(new string[0], KvmFlavor.None)]
    [InlineData(new[] { "kvm" }, KvmFlavor.None)]
    [InlineData(new[] { "kvm", "kvm_amd" }, KvmFlavor.HardwareAssisted)]
    [InlineData(new[] { "kvm", "kvm_intel" }, KvmFlavor.HardwareAssisted)]
    [InlineData(new[] { "kvm", "kvm_pvm" }, KvmFlavor.Paravirtual)]
    public void Flavor_follows_the_loaded_modules(string[] modules, KvmFlavor expected)
    {
        foreach (var m in modules) Directory.CreateDirectory(Path.Combine(_sys, m));
        Assert.Equal(expected, KvmFlavorDetector.Detect(_sys));
    }

    [Fact]
    public void Hardware_assisted_check_fails_with_the_reason_when_the_device_is_missing()
    {
        Assert.False(KvmAccelerator.IsHardwareAssistedAvailable(out var reason, "/nonexistent/kvm"));
        Assert.Contains("/nonexistent/kvm", reason);
    }
}
