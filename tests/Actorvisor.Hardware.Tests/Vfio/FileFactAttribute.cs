namespace Actorvisor.Hardware.Tests.Vfio;

/// <summary>A fact that needs a file of the host (a device node, a kernel header): reported as skipped, with the path, where it is absent.</summary>
public sealed class FileFactAttribute : FactAttribute
{
    public FileFactAttribute(string path, string why)
    {
        if (!File.Exists(path)) Skip = $"{path} is absent: {why}";
    }
}
