namespace Actorvisor.Host.Node;

/// <summary>
/// Reads the node's secret files (the API token, the TLS certificate's password, the PKCS#12 certificate with
/// its private key) the way sshd reads its keys: a file that users other than its owner may read or write is
/// refused with a <see cref="NodeConfigException"/> naming the file and the fix (chmod 600). The permissions are
/// those of the open file, and what is read is read through that same handle.
/// </summary>
public static class SecretFiles
{
    /// <summary>The permission bits a secret file must not have: any access by its group or by other users.</summary>
    public const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The trimmed text of the secret file <paramref name="path"/>, given as <paramref name="setting"/>.</summary>
    /// <exception cref="NodeConfigException">the file is missing, unreadable, empty, or open to its group or others.</exception>
    public static string ReadText(string setting, string path)
    {
        var text = System.Text.Encoding.UTF8.GetString(ReadBytes(setting, path)).Trim();
        if (text.Length == 0) throw new NodeConfigException(setting, $"{path} is empty");
        return text;
    }

    /// <summary>The bytes of the secret file <paramref name="path"/>, given as <paramref name="setting"/>.</summary>
    /// <exception cref="NodeConfigException">the file is missing, unreadable, or open to its group or others.</exception>
    public static byte[] ReadBytes(string setting, string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            // Actorvisor runs on Linux only; the guard is for the platform analyzer.
            var mode = OperatingSystem.IsWindows() ? UnixFileMode.None : File.GetUnixFileMode(handle);
            if ((mode & GroupOrOthers) != 0)
                throw new NodeConfigException(setting,
                    $"{path} is accessible by {Who(mode)} (mode {Octal(mode)}); a secret must be readable by its owner only: chmod 600 {path}");
            long length = RandomAccess.GetLength(handle);
            if (length > 1 << 20) throw new NodeConfigException(setting, $"{path} is {length} bytes; a secret file is at most 1 MiB");
            var bytes = new byte[length];
            int read = 0;
            while (read < bytes.Length)
            {
                int n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
                if (n == 0) break;
                read += n;
            }
            return bytes[..read];
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new NodeConfigException(setting, $"{path} does not exist");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigException(setting, $"{path} cannot be read: {e.Message}");
        }
    }

    private static string Who(UnixFileMode mode) =>
        (mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute)) != 0
            ? (mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute)) != 0 ? "its group and other users" : "its group"
            : "other users";

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xfff, 8);
}
