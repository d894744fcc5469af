namespace Actorvisor.Host.Tests.Cluster;

/// <summary>Writes files only their owner may read (mode 0600), as the node requires of its secret files.</summary>
public static class PrivateFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> with mode 0600.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        File.SetUnixFileMode(path, OwnerOnly);
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> with mode 0600.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));
}
