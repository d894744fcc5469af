namespace Actorvisor.Hardware.Lazy;

/// <summary>A backing store could not be opened or could not produce a page; the message names the store and the page.</summary>
public sealed class BackingStoreException : IOException
{
    /// <summary>Creates the exception.</summary>
    public BackingStoreException(string message, Exception? inner = null) : base(message, inner) { }
}
