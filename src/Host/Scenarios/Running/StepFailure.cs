using System.Text;

namespace Actorvisor.Host.Scenarios.Running;

/// <summary>Why a step failed: a message and, for expectations, what was expected, what was seen and the VM's recent serial output.</summary>
/// <param name="Message">One line saying what went wrong.</param>
/// <param name="Expected">What the step expected.</param>
/// <param name="Seen">What it saw instead.</param>
/// <param name="Vm">The VM concerned.</param>
/// <param name="SerialTail">The end of that VM's serial output at the time.</param>
public sealed record StepFailure(string Message, string? Expected = null, string? Seen = null, string? Vm = null, string? SerialTail = null)
{
    /// <summary>The message and, on the following lines, expected / seen / serial output.</summary>
    public string Render()
    {
        var text = new StringBuilder(Message);
        if (Expected is not null) text.Append("\n  expected: ").Append(Expected);
        if (Seen is not null) text.Append("\n  seen:     ").Append(Seen);
        if (Vm is not null && SerialTail is not null)
        {
            if (SerialTail.Length == 0)
            {
                text.Append($"\n  serial output of {Vm}: (none)");
            }
            else
            {
                text.Append($"\n  serial output of {Vm} (most recent):");
                foreach (var line in SerialTail.TrimEnd('\n').Split('\n')) text.Append("\n  | ").Append(line.TrimEnd('\r'));
            }
        }
        return text.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => Render();
}
