using System.Net.Sockets;
using Actorvisor.Hardware.Native;

namespace Actorvisor.Hardware.Tests.Native;

public sealed class ConfinedDirectoryTests : IDisposable
{
    private readonly string _outside = Directory.CreateTempSubdirectory("actorvisor-outside-").FullName;
    private readonly string _root = Directory.CreateTempSubdirectory("actorvisor-confined-").FullName;
    private readonly ConfinedDirectory _dir;

    public ConfinedDirectoryTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "sub"));
        File.WriteAllText(Path.Combine(_root, "sub", "guest.bin"), "inside");
        File.WriteAllText(Path.Combine(_outside, "secret"), "outside");
        _dir = ConfinedDirectory.Open(_root);
    }

    public void Dispose()
    {
        _dir.Dispose();
        Directory.Delete(_root, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    private static string Text(ConfinedFile file)
    {
        using var reader = new StreamReader(file.OpenStream());
        return reader.ReadToEnd();
    }

    private ConfinedPathException Refused(string path)
    {
        var e = Assert.Throws<ConfinedPathException>(() => _dir.OpenFile(path).Dispose());
        Assert.Equal(path, e.RequestedPath);
        Assert.Contains(path, e.Message);
        return e;
    }

    [Fact]
    public void A_regular_file_beneath_the_root_is_opened_and_read_through_its_descriptor()
    {
        using var file = _dir.OpenFile("sub/guest.bin");
        Assert.Equal(Path.Combine(_root, "sub", "guest.bin"), file.Path);
        Assert.Equal(6, file.Length);
        // The path is replaced after the open: reads still see the file that was opened.
        File.Move(Path.Combine(_root, "sub", "guest.bin"), Path.Combine(_root, "sub", "moved.bin"));
        File.WriteAllText(Path.Combine(_root, "sub", "guest.bin"), "replaced");
        Assert.Equal("inside", Text(file));
        Assert.Equal("inside"u8.ToArray(), file.ReadAll(100));
        Span<byte> tail = stackalloc byte[10];
        Assert.Equal(2, file.ReadAt(tail, 4));
        Assert.Equal("de"u8.ToArray(), tail[..2].ToArray());
        Assert.Throws<IOException>(() => file.ReadAll(5));
    }

    [Fact]
    public void A_symbolic_link_that_stays_inside_is_followed()
    {
        File.CreateSymbolicLink(Path.Combine(_root, "alias.bin"), "sub/guest.bin");
        Directory.CreateSymbolicLink(Path.Combine(_root, "sub", "up"), "..");
        using (var file = _dir.OpenFile("alias.bin")) Assert.Equal("inside", Text(file));
        using (var file = _dir.OpenFile("sub/up/sub/guest.bin")) Assert.Equal("inside", Text(file));
        using (var file = _dir.OpenFile("sub/../sub/./guest.bin")) Assert.Equal("inside", Text(file));
    }

    [Fact]
    public void A_symbolic_link_leading_out_is_refused_both_absolute_and_relative()
    {
        Directory.CreateSymbolicLink(Path.Combine(_root, "sub", "etc"), "/etc");
        File.CreateSymbolicLink(Path.Combine(_root, "rel"), Path.GetRelativePath(_root, Path.Combine(_outside, "secret")));
        Assert.True(File.Exists(Path.Combine(_root, "sub", "etc", "passwd")), "the link resolves for an unconfined open");
        Assert.Contains("leads out of", Refused("sub/etc/passwd").Reason);
        Assert.Contains("leads out of", Refused("rel").Reason);
    }

    [Fact]
    public void Dot_dot_above_the_root_and_absolute_paths_are_refused()
    {
        var secret = Path.GetRelativePath(_root, Path.Combine(_outside, "secret"));
        Assert.StartsWith("..", secret);
        Assert.Contains("leads out of", Refused(secret).Reason);
        Assert.Contains("leads out of", Refused("sub/../../" + Path.GetFileName(_outside) + "/secret").Reason);
        Assert.Contains("absolute", Refused(Path.Combine(_outside, "secret")).Reason);
        Assert.Contains("absolute", Refused("/proc/self/root/etc/passwd").Reason);
    }

    [Fact]
    public void Proc_magic_links_are_refused_even_beneath_the_root()
    {
        // /proc/self/root is a magic link to "/"; reached beneath a directory it would jump out without a '..'.
        using var proc = ConfinedDirectory.Open("/proc/self");
        var root = Assert.Throws<ConfinedPathException>(() => proc.OpenFile("root/etc/passwd").Dispose());
        Assert.Contains("magic link", root.Reason);
        var fd = Assert.Throws<ConfinedPathException>(() => proc.OpenFile("fd/0").Dispose());
        Assert.Contains("magic link", fd.Reason);
        // A plain link to /proc/self/root inside the root is refused too (its target is absolute).
        Directory.CreateSymbolicLink(Path.Combine(_root, "slash"), "/proc/self/root");
        Assert.Contains("leads out of", Refused("slash/etc/passwd").Reason);
    }

    [Fact]
    public async Task A_fifo_is_refused_without_blocking_for_a_writer()
    {
        var fifo = Path.Combine(_root, "sub", "pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        // A blocking open would wait for a writer for ever; 30 s is orders above the microseconds the refusal takes.
        var e = await Assert.ThrowsAsync<ConfinedPathException>(() =>
            Task.Run(() => _dir.OpenFile("sub/pipe").Dispose()).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("FIFO", e.Reason);
    }

    [Fact]
    public void Device_nodes_sockets_and_directories_are_refused()
    {
        using (var dev = ConfinedDirectory.Open("/dev"))
        {
            var e = Assert.Throws<ConfinedPathException>(() => dev.OpenFile("null").Dispose());
            Assert.Contains("character device", e.Reason);
        }
        Assert.Contains("directory", Refused("sub").Reason);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(_root, "sub", "sock")));
        Assert.Contains("socket", Refused("sub/sock").Reason);
    }

    [Fact]
    public void Missing_and_empty_paths_say_so()
    {
        Assert.Contains("does not exist", Refused("sub/nope.bin").Reason);
        Assert.Contains("not a directory", Refused("sub/guest.bin/x").Reason);
        Assert.Contains("empty", Refused("").Reason);
    }
}
