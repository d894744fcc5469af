namespace Actorvisor.Hardware.Soft;

/// <summary>A failed Unicorn call: names the uc function, its uc_err code and uc_strerror's text.</summary>
public sealed class UnicornException : Exception
{
    /// <summary>Creates the exception for <paramref name="function"/> failing with <paramref name="error"/>.</summary>
    public UnicornException(string function, int error, string? detail = null)
        : base($"{function} failed: {UnicornNative.StrError(error)} (uc_err {error})" + (detail is null ? "" : $" [{detail}]"))
    {
        Function = function;
        Error = error;
    }

    /// <summary>The Unicorn function that failed, e.g. "uc_mem_map_ptr".</summary>
    public string Function { get; }

    /// <summary>The uc_err value it returned.</summary>
    public int Error { get; }
}
