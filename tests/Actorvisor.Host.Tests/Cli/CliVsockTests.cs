using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>`--vsock CID` on `run` and `vm create`, and how `run --kernel` announces virtio devices to Linux.</summary>
public sealed class CliVsockTests
{
    [Theory]
    [InlineData("2")]
    [InlineData("4294967295")]
    public async Task Run_refuses_a_reserved_or_too_large_cid(string cid)
    {
        var r = await CliProcess.RunAsync("run", "--image", "/nonexistent.bin", "--vsock", cid, "--accelerator", "software");
        Assert.True(r.ExitCode == ExitCodes.Usage, r.ToString());
        Assert.Contains($"--vsock: {cid} is reserved or too large", r.Stderr);
    }

    [Fact]
    public async Task Vm_create_names_the_vsock_option_in_its_refusal()
    {
        var r = await CliProcess.RunAsync("vm", "create", "web", "--image", "hello", "--vsock", "1");
        Assert.True(r.ExitCode == ExitCodes.Usage, r.ToString());
        Assert.Contains("--vsock", r.Stderr);
        Assert.Contains("1 is reserved", r.Stderr);
    }

    [Fact]
    public void A_linux_guest_learns_of_each_virtio_device_from_acpi_alone_unless_asked()
    {
        const string line = "console=ttyS0";
        // The PC platform's DSDT announces every device; the command line names none by default.
        Assert.Equal(line, RunCommand.LinuxCommandLine(line, 3, announce: false));
        var announced = RunCommand.LinuxCommandLine(line, 3, announce: true);
        for (int i = 0; i < 3; i++)
            Assert.Single(announced.Split(' '), p => p == VirtioMmioLayout.KernelParameter(i));
        Assert.Equal(3, announced.Split(' ').Count(p => p.StartsWith("virtio_mmio.device=", StringComparison.Ordinal)));
    }
}
