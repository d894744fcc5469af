using Actorvisor.Hardware.Guests;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>The `actorvisor` command as a user runs it: a real process, real guests, its exit codes and output.</summary>
public class CliCommandTests
{
    // Real mode at 0x8000: print 'A' on COM1, write 7 to the debug-exit port, hlt.
    private static readonly byte[] PrintAExit7 = [0xb0, 0x41, 0xba, 0xf8, 0x03, 0xee, 0xb0, 0x07, 0xe6, 0xf4, 0xf4];

    [Fact]
    public async Task Demo_prints_the_greeting_the_accelerator_and_the_summary()
    {
        var r = await CliProcess.RunAsync("demo", "--accelerator", "software");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(GuestLibrary.HelloText.TrimEnd(), r.Stdout);
        Assert.Contains("accelerator: software (Unicorn", r.Stdout);
        Assert.Contains("guest exited with result code 0", r.Stdout);
    }

    [Fact]
    public async Task Run_returns_the_byte_the_guest_wrote_to_the_debug_exit_port()
    {
        var image = CliProcess.TempImage(PrintAExit7);
        try
        {
            var r = await CliProcess.RunAsync("run", "--image", image, "--format", "flat", "--mode", "real", "--memory", "2M", "--accelerator", "software");
            Assert.True(r.ExitCode == 7, r.ToString());
            Assert.Contains("A\n[actorvisor] guest exited with result code 7", r.Stdout);
        }
        finally { File.Delete(image); }
    }

    [Fact]
    public async Task Run_at_a_chosen_load_address_and_entry()
    {
        // Two hlt bytes, then the program: only an entry 2 bytes past the load address reaches the exit code.
        var image = CliProcess.TempImage([0xf4, 0xf4, .. PrintAExit7]);
        try
        {
            var r = await CliProcess.RunAsync("run", "--image", image, "--load-address", "0x9000", "--entry", "0x9002", "--accelerator", "software");
            Assert.True(r.ExitCode == 7, r.ToString());
        }
        finally { File.Delete(image); }
    }

    [Fact]
    public async Task A_guest_that_halts_without_a_result_code_exits_0()
    {
        var image = CliProcess.TempImage([0xf4]);
        try
        {
            var r = await CliProcess.RunAsync("run", "--image", image, "--accelerator", "software");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("halted", r.Stdout);
        }
        finally { File.Delete(image); }
    }

    [Fact]
    public async Task A_crashing_guest_prints_the_reason_and_exits_255()
    {
        var image = CliProcess.TempImage([0x0f, 0x0b]); // ud2 in protected mode, no IDT: triple fault
        try
        {
            var r = await CliProcess.RunAsync("run", "--image", image, "--mode", "protected", "--accelerator", "software");
            Assert.True(r.ExitCode == 255, r.ToString());
            Assert.Contains("failed", r.Stdout);
            Assert.Contains("#UD", r.Stdout);
        }
        finally { File.Delete(image); }
    }

    [Theory]
    [InlineData("--memory", "12Q", "--memory: '12Q' is not a size")]
    [InlineData("--vcpus", "0", "--vcpus must be between 1 and")]
    [InlineData("--entry", "zz", "--entry: 'zz' is not an address")]
    [InlineData("--mode", "warp", "warp")]
    [InlineData("--timeout", "-1", "--timeout must be a positive")]
    public async Task Bad_arguments_exit_2_with_a_message_naming_the_option(string option, string value, string expected)
    {
        var image = CliProcess.TempImage(PrintAExit7);
        try
        {
            var r = await CliProcess.RunAsync("run", "--image", image, option, value, "--accelerator", "software");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains(expected, r.Stderr);
            Assert.DoesNotContain("booting", r.Stdout);
        }
        finally { File.Delete(image); }
    }

    [Fact]
    public async Task A_linux_kernel_on_the_software_accelerator_exits_2_with_the_reason()
    {
        // The platform check comes before the kernel is read, so any file stands in for the bzImage here.
        var kernel = CliProcess.TempImage([0x90]);
        try
        {
            var r = await CliProcess.RunAsync("run", "--kernel", kernel, "--cmdline", "console=ttyS0", "--accelerator", "software");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains("the software accelerator cannot boot Linux", r.Stderr);
            Assert.Contains(kernel, r.Stderr);
            Assert.DoesNotContain("booting", r.Stdout);
        }
        finally { File.Delete(kernel); }
    }

    [Fact]
    public async Task An_initrd_without_a_kernel_and_a_command_line_for_a_flat_image_exit_2()
    {
        var image = CliProcess.TempImage(PrintAExit7);
        try
        {
            var r = await CliProcess.RunAsync("run", "--image", image, "--initrd", image, "--accelerator", "software");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains("--initrd goes with --kernel", r.Stderr);
            r = await CliProcess.RunAsync("run", "--image", image, "--cmdline", "quiet", "--accelerator", "software");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Contains("for multiboot kernels", r.Stderr);
        }
        finally { File.Delete(image); }
    }

    [Fact]
    public async Task Missing_or_unreadable_images_exit_2_before_anything_runs()
    {
        var missing = await CliProcess.RunAsync("run", "--accelerator", "software");
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("--image", missing.Stderr);

        var absent = await CliProcess.RunAsync("run", "--image", "/nonexistent/guest.bin", "--accelerator", "software");
        Assert.True(absent.ExitCode == 2, absent.ToString());
        Assert.Contains("/nonexistent/guest.bin does not exist", absent.Stderr);

        var elf = CliProcess.TempImage([0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 1, 1, 0, 0, 0], ".elf");
        try
        {
            var malformed = await CliProcess.RunAsync("run", "--image", elf, "--accelerator", "software");
            Assert.True(malformed.ExitCode == 2, malformed.ToString());
            Assert.Contains($"cannot load image '{elf}'", malformed.Stderr);
            Assert.DoesNotContain("booting", malformed.Stdout);
        }
        finally { File.Delete(elf); }
    }

    [Fact]
    public async Task Bench_exits_prints_median_min_and_max_of_its_rounds()
    {
        var r = await CliProcess.RunAsync("bench", "exits", "--exits", "100000", "--rounds", "5");
        Assert.True(r.ExitCode == 0, r.ToString());
        var figures = Figures(r.Stdout);
        Assert.Equal(5, figures["exits.rounds"]);
        foreach (var key in new[] { "exits.runtime_per_s", "exits.raw_per_s", "exits.cost_ratio" })
        {
            Assert.True(figures[$"{key}_min"] > 0, $"{key}_min = {figures[$"{key}_min"]}");
            Assert.InRange(figures[key], figures[$"{key}_min"], figures[$"{key}_max"]);
        }
        // One progress line per measured round, on stderr.
        Assert.Equal(5, r.Stderr.Split('\n').Count(l => l.StartsWith("exits: round ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Bench_refuses_fewer_than_five_rounds()
    {
        var r = await CliProcess.RunAsync("bench", "exits", "--rounds", "3");
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains("--rounds must be at least 5", r.Stderr + r.Stdout);
    }

    [Fact]
    public async Task Bench_lifecycle_prints_its_figures()
    {
        var r = await CliProcess.RunAsync("bench", "lifecycle", "--vms", "10", "--idle-vms", "10", "--round-trips", "20");
        Assert.True(r.ExitCode == 0, r.ToString());
        var figures = Figures(r.Stdout);
        foreach (var key in new[] { "lifecycle.vms_per_s", "lifecycle.raw_vms_per_s", "lifecycle.pause_resume_p50_us", "lifecycle.pause_resume_p99_us", "lifecycle.ask_pair_p99_us" })
        {
            Assert.True(figures[$"{key}_min"] > 0, $"{key}_min = {figures[$"{key}_min"]}");
            Assert.InRange(figures[key], figures[$"{key}_min"], figures[$"{key}_max"]);
        }
        // The bench clamps this figure at 0 (resident-set noise can make the difference negative), so a sign check
        // could not fail: the test checks it is printed, as a number (the parse in Figures).
        Assert.Contains("lifecycle.bytes_per_idle_vm", figures.Keys);
        Assert.True(figures["lifecycle.pause_resume_p99_us_max"] >= figures["lifecycle.pause_resume_p50_us_min"]);
    }

    private static Dictionary<string, double> Figures(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ", 2))
            .ToDictionary(p => p[0], p => double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
}
