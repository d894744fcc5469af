using System.Text;

namespace Actorvisor.Kvm.Tests.Linux;

/// <summary>Writes a cpio archive in the "newc" format an initramfs uses: directories, files, symlinks and device nodes.</summary>
internal sealed class NewcArchive
{
    private readonly MemoryStream _out = new();
    private int _inode = 1;

    public NewcArchive Directory(string name) => Add(name, 0x4000 | 0x1ed, [], 0, 0);

    public NewcArchive File(string name, byte[] data, int permissions = 0x1ed) => Add(name, 0x8000 | permissions, data, 0, 0);

    public NewcArchive CharacterDevice(string name, int major, int minor) => Add(name, 0x2000 | 0x180, [], major, minor);

    public byte[] Build()
    {
        Add("TRAILER!!!", 0, [], 0, 0);
        return _out.ToArray();
    }

    private NewcArchive Add(string name, int mode, byte[] data, int rdevMajor, int rdevMinor)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        int[] fields = [_inode++, mode, 0, 0, 1, 0, data.Length, 0, 0, rdevMajor, rdevMinor, nameBytes.Length, 0];
        var header = new StringBuilder("070701");
        foreach (var f in fields) header.Append(f.ToString("X8"));
        Write(Encoding.ASCII.GetBytes(header.ToString()));
        Write(nameBytes);
        Pad();
        Write(data);
        Pad();
        return this;
    }

    private void Write(byte[] bytes) => _out.Write(bytes);

    private void Pad()
    {
        while (_out.Length % 4 != 0) _out.WriteByte(0);
    }
}
