using Actorvisor.Hardware.Devices.Virtio;
using Actorvisor.Hardware.Guests;
using Actorvisor.Host.Cli;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>`actorvisor run --disk FILE[,ro]`: the guest gets a virtio-blk device over the file.</summary>
public sealed class CliDiskTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-cli-disk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (string Image, string Disk) Files()
    {
        var image = Path.Combine(_dir, "driver.bin");
        File.WriteAllBytes(image, VirtioGuests.BlockDriver().Bytes.ToArray());
        var disk = Path.Combine(_dir, "disk.img");
        var bytes = new byte[8 * VirtioBlock.SectorSize];
        BitConverter.TryWriteBytes(bytes.AsSpan((int)VirtioGuests.ReadSector * VirtioBlock.SectorSize), 0x0d15_c0deu);
        File.WriteAllBytes(disk, bytes);
        return (image, disk);
    }

    [Fact]
    public async Task A_guest_reads_writes_and_flushes_its_disk()
    {
        var (image, disk) = Files();
        var r = await CliProcess.RunAsync("run", "--image", image, "--format", "flat", "--mode", "protected", "--load-address", "0x100000",
            "--disk", disk, "--accelerator", "software");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("virtio-blk read=0d15c0de ok", r.Stdout);
        Assert.Equal(VirtioGuests.WrittenPattern, BitConverter.ToUInt32(File.ReadAllBytes(disk), (int)VirtioGuests.WrittenSector * VirtioBlock.SectorSize));
    }

    [Fact]
    public async Task A_read_only_disk_fails_the_guest_write()
    {
        var (image, disk) = Files();
        var r = await CliProcess.RunAsync("run", "--image", image, "--format", "flat", "--mode", "protected", "--load-address", "0x100000",
            "--disk", disk + ",ro", "--accelerator", "software");
        Assert.True(r.ExitCode == 4, r.ToString()); // the guest's "request 2 (the write) failed"
        Assert.Contains("virtio-blk fail 4", r.Stdout);
        Assert.Equal(0u, BitConverter.ToUInt32(File.ReadAllBytes(disk), (int)VirtioGuests.WrittenSector * VirtioBlock.SectorSize));
    }

    [Theory]
    [InlineData("disk.img,bogus", "not a disk option")]
    [InlineData("missing.img", "does not exist")]
    public async Task A_bad_disk_is_a_usage_error(string disk, string message)
    {
        var (image, _) = Files();
        var r = await CliProcess.RunAsync("run", "--image", image, "--format", "flat", "--mode", "protected", "--load-address", "0x100000",
            "--disk", Path.Combine(_dir, disk), "--accelerator", "software");
        Assert.True(r.ExitCode == ExitCodes.Usage, r.ToString());
        Assert.Contains(message, r.Stderr);
    }

    [Theory]
    [InlineData("tap=t0,bridge=br0", "not a network option")]
    [InlineData("mac=52:54:00:00:00:01", "names no tap interface")]
    [InlineData("tap=abcdefghijklmnop", "at most 15 characters")]
    [InlineData("tap=t0,mac=01:00:5e:00:00:01", "multicast")]
    public async Task A_bad_network_card_is_a_usage_error(string net, string message)
    {
        var (image, _) = Files();
        var r = await CliProcess.RunAsync("run", "--image", image, "--format", "flat", "--mode", "protected", "--load-address", "0x100000",
            "--net", net, "--accelerator", "software");
        Assert.True(r.ExitCode == ExitCodes.Usage, r.ToString());
        Assert.Contains($"--net: ", r.Stderr);
        Assert.Contains(message, r.Stderr);
    }
}
