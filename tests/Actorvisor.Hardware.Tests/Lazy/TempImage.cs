namespace Actorvisor.Hardware.Tests.Lazy;

/// <summary>A memory image file with random content in the temp folder, deleted on dispose.</summary>
internal sealed class TempImage : IDisposable
{
    public TempImage(int length, int seed = 42, Action<byte[]>? edit = null)
    {
        Bytes = new byte[length];
        new Random(seed).NextBytes(Bytes);
        edit?.Invoke(Bytes);
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"actorvisor-image-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(Path, Bytes);
    }

    public string Path { get; }
    public byte[] Bytes { get; }

    public void Dispose() => File.Delete(Path);
}
