using System.Text;

namespace Actorvisor.Actors.Vm;

/// <summary>Something that happened to VM <paramref name="VmName"/>; sent to its subscribers (state changes and the end also to its parent).</summary>
public abstract record VmEvent(string VmName);

/// <summary>The VM moved from <paramref name="From"/> to <paramref name="To"/>.</summary>
public sealed record VmStateChanged(string VmName, VmState From, VmState To) : VmEvent(VmName);

/// <summary>Bytes the guest wrote to its serial console, in order.</summary>
public sealed record VmConsoleOutput(string VmName, byte[] Bytes) : VmEvent(VmName)
{
    /// <summary>The bytes as text (Latin-1: every byte is one character, as a serial terminal shows it).</summary>
    public string Text => Encoding.Latin1.GetString(Bytes);
}

/// <summary>Teardown step <paramref name="Step"/> has completed.</summary>
public sealed record VmTeardownStepped(string VmName, TeardownStep Step) : VmEvent(VmName);

/// <summary>The VM has been torn down and ended with <paramref name="Outcome"/> (its last event).</summary>
public sealed record VmEnded(string VmName, VmOutcome Outcome) : VmEvent(VmName);
