using System.Buffers.Binary;
using Actorvisor.Hardware.Guests;
using Actorvisor.Hardware.Images;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>`actorvisor run` with boot sectors and multiboot kernels: detection, --format, --cmdline, --module, and the refusals (exit 2, nothing runs).</summary>
public sealed class RunBootProtocolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-cli-boot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void AssertRefused(CliProcess.Result r, params string[] expected)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        foreach (var e in expected) Assert.Contains(e, r.Stderr);
        Assert.DoesNotContain("booting", r.Stdout);
    }

    [Fact]
    public async Task A_multiboot_kernel_asked_onto_the_pc_platform_is_refused_on_the_software_accelerator_and_runs_without_it()
    {
        var image = Write("kernel.mb", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        var pc = await CliProcess.RunAsync("run", "--image", image, "--platform", "pc", "--accelerator", "software");
        AssertRefused(pc, "needs the PC platform", "which only KVM provides");
        var minimal = await CliProcess.RunAsync("run", "--image", image, "--platform", "minimal", "--accelerator", "software");
        Assert.True(minimal.ExitCode == 0, minimal.ToString());
        Assert.Contains("boot loader: Actorvisor", minimal.Stdout);
    }

    [Fact]
    public async Task The_test_device_without_the_pc_platform_is_refused()
    {
        var image = Write("kernel.mb", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        var r = await CliProcess.RunAsync("run", "--image", image, "--test-device", "--accelerator", "software");
        AssertRefused(r, "--test-device goes with --platform pc");
    }

    [Fact]
    public async Task A_linux_kernel_on_the_minimal_platform_is_refused()
    {
        var r = await CliProcess.RunAsync("run", "--kernel", Write("bzImage", new byte[4096]), "--platform", "minimal", "--accelerator", "kvm");
        AssertRefused(r, "boots on the pc platform only");
    }

    [Fact]
    public async Task A_boot_sector_is_detected_and_runs_at_7c00()
    {
        var image = Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        var r = await CliProcess.RunAsync("run", "--image", image, "--accelerator", "software");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(BootProtocolGuests.BootSectorHelloText, r.Stdout);
        Assert.Contains("Real mode", r.Stdout);
    }

    [Fact]
    public async Task The_issue_command_for_a_flat_image_at_7c00_runs()
    {
        var image = Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        var r = await CliProcess.RunAsync("run", "--image", image, "--format", "flat", "--mode", "real", "--load-address", "0x7c00", "--entry", "0x7c00", "--accelerator", "software");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("Hello from a boot sector! dl=00000000 sp=00007c00", r.Stdout);
    }

    [Fact]
    public async Task A_multiboot_kernel_gets_its_command_line_and_modules()
    {
        var kernel = Write("kernel.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        var module = Write("mod.txt", "abc"u8.ToArray());
        var r = await CliProcess.RunAsync("run", "--image", kernel, "--cmdline", "quiet x=1", "--module", $"{module}=first", "--module", module,
            "--memory", "16M", "--accelerator", "software");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains(BootProtocolGuests.ExpectedMultibootReport(16UL << 20, "quiet x=1", [("first", "abc"), (module, "abc")]), r.Stdout);
        Assert.Contains("Protected mode", r.Stdout);
    }

    [Fact]
    public async Task A_file_without_the_boot_signature_given_as_a_boot_sector_exits_2()
    {
        var image = Write("unsigned.bin", new byte[512]);
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--format", "bootsector", "--accelerator", "software"), image, "55 aa");
    }

    [Fact]
    public async Task A_truncated_boot_sector_exits_2()
    {
        var image = Write("short.bin", new byte[100]);
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--format", "bootsector", "--accelerator", "software"), image, "truncated boot sector");
    }

    [Fact]
    public async Task A_file_without_a_multiboot_header_given_as_multiboot_exits_2()
    {
        var image = Write("plain.bin", new byte[64]);
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--format", "multiboot", "--accelerator", "software"), image, "not a multiboot kernel");
    }

    [Fact]
    public async Task A_bad_multiboot_checksum_exits_2()
    {
        var bytes = BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 0);
        var image = Write("badsum.bin", bytes);
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--accelerator", "software"), image, "bad multiboot header checksum");
    }

    [Fact]
    public async Task A_missing_module_exits_2_naming_it()
    {
        var kernel = Write("kernel.bin", BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray());
        var missing = Path.Combine(_dir, "absent.mod");
        AssertRefused(await CliProcess.RunAsync("run", "--image", kernel, "--module", missing, "--accelerator", "software"), kernel, missing, "does not exist");
    }

    [Fact]
    public async Task A_kernel_over_the_mmio_window_or_beyond_ram_exits_2()
    {
        var high = BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray();
        // Move header_addr and load_addr (and the entry with them) into the MMIO window, fixing nothing else: the checksum covers only magic and flags.
        foreach (int field in new[] { 12, 16, 28 })
            BinaryPrimitives.WriteUInt32LittleEndian(high.AsSpan(field), BinaryPrimitives.ReadUInt32LittleEndian(high.AsSpan(field)) - 0x100000 + 0xc0000000);
        var mmio = Write("mmio.bin", high);
        AssertRefused(await CliProcess.RunAsync("run", "--image", mmio, "--accelerator", "software"), mmio, "MMIO window");

        var big = BootProtocolGuests.MultibootInfoReporter().Bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(big.AsSpan(24), 0x4000000); // bss_end_addr at 64 MiB
        var image = Write("big.bin", big);
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--memory", "16M", "--accelerator", "software"), image, "beyond guest RAM");
    }

    [Fact]
    public async Task Modules_and_a_command_line_for_a_flat_image_exit_2()
    {
        var image = Write("hello.bin", GuestLibrary.Hello().Bytes.ToArray());
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--cmdline", "x", "--accelerator", "software"), "multiboot kernels");
    }

    [Fact]
    public async Task A_boot_sector_in_protected_mode_exits_2()
    {
        var image = Write("boot.bin", BootProtocolGuests.BootSectorHello().Bytes.ToArray());
        AssertRefused(await CliProcess.RunAsync("run", "--image", image, "--mode", "protected", "--accelerator", "software"), "real mode only");
        Assert.Equal(ImageFormat.BootSector, ImageFormatDetector.Detect(image));
    }
}
