using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Actorvisor.Hardware.Native;

/// <summary>
/// Says why this process may not open a file, in the terms a person grants access with: the file's owner, group and
/// mode, and the user and groups this process runs as (from /proc/self/status). Used by the host probes so that a
/// missing grant is named exactly ("/dev/userfaultfd is root:root 0600; the node runs as uid 65534 with groups 64999").
/// </summary>
public static class AccessDescription
{
    /// <summary>"PATH is OWNER:GROUP MODE; this process runs as uid U (gid G, groups ...)", or why the file could not be examined.</summary>
    public static string Of(string path) => $"{OwnerAndMode(path)}; this process runs as {Self()}";

    /// <summary>"PATH is OWNER:GROUP MODE" (names where /etc/passwd and /etc/group know the ids), or why it could not be examined.</summary>
    public static unsafe string OwnerAndMode(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        statx buffer;
        int r;
        // Safe: the path is pinned and NUL-terminated; the kernel writes one struct statx into the local.
        fixed (byte* p = bytes) r = statx(AT_FDCWD, p, 0, STATX_MODE | STATX_UID | STATX_GID, &buffer);
        if (r != 0) return $"{path} cannot be examined ({Errnos.Name(errno)})";
        return $"{path} is {Name("/etc/passwd", buffer.stx_uid)}:{Name("/etc/group", buffer.stx_gid)} mode 0{Convert.ToString(buffer.stx_mode & 0xfff, 8)}";
    }

    /// <summary>"uid U(name) gid G(name) groups [..]" of this process, from /proc/self/status.</summary>
    public static string Self()
    {
        string uid = "?", gid = "?", groups = "";
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            var value = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (line.StartsWith("Uid:", StringComparison.Ordinal)) uid = value[1]; // the effective id
            else if (line.StartsWith("Gid:", StringComparison.Ordinal)) gid = value[1];
            else if (line.StartsWith("Groups:", StringComparison.Ordinal)) groups = string.Join(' ', value.Select(g => Name("/etc/group", uint.Parse(g, System.Globalization.CultureInfo.InvariantCulture))));
        }
        return $"uid {Name("/etc/passwd", uint.Parse(uid, System.Globalization.CultureInfo.InvariantCulture))}, " +
               $"gid {Name("/etc/group", uint.Parse(gid, System.Globalization.CultureInfo.InvariantCulture))}, " +
               $"supplementary groups [{groups}]";
    }

    /// <summary>"ID(name)" when <paramref name="database"/> (passwd or group format) names the id, else "ID".</summary>
    private static string Name(string database, uint id)
    {
        try
        {
            string text = id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (var line in File.ReadLines(database))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && fields[2] == text) return $"{text}({fields[0]})";
            }
            return text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
