namespace Actorvisor.Hardware.Images;

/// <summary>An image that cannot be loaded: missing, truncated, malformed, or not fitting guest RAM.</summary>
public sealed class ImageLoadException : Exception
{
    /// <summary>An error about <paramref name="image"/> (a file path or an image name).</summary>
    public ImageLoadException(string image, string problem, Exception? inner = null)
        : base($"cannot load image '{image}': {problem}", inner)
    {
        Image = image;
        Problem = problem;
    }

    /// <summary>The file path or image name the error is about.</summary>
    public string Image { get; }

    /// <summary>What is wrong, without the image name.</summary>
    public string Problem { get; }
}
