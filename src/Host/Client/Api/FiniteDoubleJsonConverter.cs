using System.Text.Json;
using System.Text.Json.Serialization;

namespace Actorvisor.Host.Api;

/// <summary>
/// Reads and writes a <see cref="double"/> as a plain JSON number and refuses one that is not finite: a literal such as
/// 1e309 parses to infinity, which no field of the API means and which no JSON writer can write back. The refusal is a
/// <see cref="JsonException"/>, so the serializer reports it with the path of the field (for example
/// <c>$.migration.dirtyPagesPerSecond</c>). Nullable doubles use it too.
/// </summary>
public sealed class FiniteDoubleJsonConverter : JsonConverter<double>
{
    /// <inheritdoc />
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number)
            throw new JsonException($"expected a number, found {reader.TokenType}");
        double value = reader.GetDouble();
        return double.IsFinite(value) ? value : throw new JsonException("the number is out of range (not a finite double)");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (!double.IsFinite(value))
            throw new ArgumentException($"{value} is not a finite number and has no JSON form", nameof(value));
        writer.WriteNumberValue(value);
    }
}
