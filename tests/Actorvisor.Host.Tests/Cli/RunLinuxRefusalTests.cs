namespace Actorvisor.Host.Tests.Cli;

/// <summary>`actorvisor run --kernel` where Linux cannot run: exit 2 with the reason, nothing booted.</summary>
public sealed class RunLinuxRefusalTests
{
    [Fact]
    public async Task A_linux_kernel_on_the_software_accelerator_exits_2_with_the_reason()
    {
        var kernel = CliProcess.TempImage(new byte[4096]);
        try
        {
            var r = await CliProcess.RunAsync("run", "--kernel", kernel, "--accelerator", "software");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains($"cannot boot {kernel}", r.Stderr);
            Assert.Contains("the software accelerator cannot boot Linux", r.Stderr);
            Assert.DoesNotContain("booting", r.Stdout);
        }
        finally { File.Delete(kernel); }
    }

    [Fact]
    public async Task A_missing_kernel_or_no_image_at_all_exits_2()
    {
        var missing = await CliProcess.RunAsync("run", "--kernel", "/nonexistent/bzImage", "--accelerator", "software");
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("/nonexistent/bzImage does not exist", missing.Stderr);
        var none = await CliProcess.RunAsync("run", "--accelerator", "software");
        Assert.True(none.ExitCode == 2, none.ToString());
        Assert.Contains("--image", none.Stderr);
    }
}
