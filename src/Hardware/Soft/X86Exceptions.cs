namespace Actorvisor.Hardware.Soft;

/// <summary>Names of x86 exception vectors (Intel SDM vol. 3, table 6-1), for exit reasons.</summary>
internal static class X86Exceptions
{
    private static readonly string[] Mnemonics =
    [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "coprocessor segment overrun", "#TS", "#NP",
        "#SS", "#GP", "#PF", "reserved vector 15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    ];

    /// <summary>The invalid-opcode vector.</summary>
    public const int InvalidOpcode = 6;

    /// <summary>"#GP (vector 13)", "INT 0x21", ...</summary>
    public static string Describe(uint vector, bool softwareInterrupt) =>
        softwareInterrupt ? $"INT 0x{vector:x}"
        : vector < Mnemonics.Length ? $"{Mnemonics[vector]} (vector {vector})"
        : $"vector {vector}";
}
