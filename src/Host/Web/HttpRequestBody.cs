using System.Text.Json;
using System.Text.RegularExpressions;
using Actorvisor.Host.Api.V1;
using Microsoft.AspNetCore.Http;

namespace Actorvisor.Host.Web;

/// <summary>
/// Owns reading an HTTP request's JSON body into a v1 request record: the size limit of the remote API
/// (<see cref="ApiSerializer.MaxRequestBytes"/>), the v1 JSON names, and, on failure, an
/// <see cref="ApiErrorCode.InvalidRequest"/> naming the field at fault by its path in the body (e.g. "spec.vcpus"),
/// the same names <see cref="ApiValidator"/> uses. Unknown fields and missing required ones are refused too.
/// </summary>
public static partial class HttpRequestBody
{
    /// <summary>Reads <typeparamref name="T"/> from <paramref name="context"/>'s body; exactly one of the results is set.</summary>
    public static async Task<(T? Request, ApiErrorReply? Error)> ReadAsync<T>(HttpContext context, JsonSerializerOptions options) where T : ApiRequest
    {
        int max = ApiSerializer.MaxRequestBytes;
        if (context.Request.ContentLength > max) return (null, TooLarge(context.Request.ContentLength.Value));
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > max) return (null, TooLarge(buffer.Length));
        }
        if (buffer.Length == 0) return (null, ApiErrorReply.Invalid("body", "is empty: send a JSON object"));
        T? request;
        try
        {
            request = JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), options);
        }
        catch (JsonException e)
        {
            return (null, Explain(e, typeof(T)));
        }
        if (request is null) return (null, ApiErrorReply.Invalid("body", "is JSON null: send a JSON object"));
        if (request.Token is not null) return (null, ApiErrorReply.Invalid("token", "goes in the Authorization header ('Bearer TOKEN'), not in the body"));
        return (request, null);
    }

    /// <summary>The JSON settings for request bodies: <paramref name="contract"/>'s, strict about unknown and missing fields.</summary>
    public static JsonSerializerOptions Strict(JsonSerializerOptions contract) => new(contract)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    private static ApiErrorReply TooLarge(long bytes) =>
        new(ApiErrorCode.InvalidRequest, $"body: is {bytes} bytes; at most {ApiSerializer.MaxRequestBytes}", "body");

    // System.Text.Json names the place ($.spec.vcpus) and the problem; turn both into the API's words.
    private static ApiErrorReply Explain(JsonException e, Type root)
    {
        string path = e.Path is { Length: > 1 } p && p.StartsWith("$.", StringComparison.Ordinal) ? p[2..] : "";
        string message = e.Message;
        if (Unmapped().Match(message) is { Success: true } unmapped)
        {
            // The path already ends with the unknown name.
            string field = path.Length > 0 ? path : unmapped.Groups[1].Value;
            return ApiErrorReply.Invalid(field, "is not a field of this request (field names are camelCase, e.g. memoryBytes)");
        }
        if (MissingRequired().Match(message) is { Success: true } missing)
            return ApiErrorReply.Invalid(Join(path, missing.Groups[1].Value), "is missing");
        if (Converted().IsMatch(message))
            return path.Length == 0
                ? ApiErrorReply.Invalid("body", "is not a JSON object")
                : ApiErrorReply.Invalid(path, $"has the wrong type: expected {Expected(TypeAt(root, path))}");
        if (NullValue().IsMatch(message))
            return ApiErrorReply.Invalid(path.Length == 0 ? "body" : path, "must not be null");
        // A syntax error: the reader says where.
        string where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}" : "";
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        string reason = (cut > 0 ? message[..cut] : message).Trim();
        return new ApiErrorReply(ApiErrorCode.InvalidRequest, $"body: is not valid JSON{where}{(path.Length > 0 ? $" (in {path})" : "")}: {reason}", "body");
    }

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    // The type of the member at path (camelCase names, "[i]" for list items) below root; null when there is none.
    private static Type? TypeAt(Type root, string path)
    {
        Type? type = root;
        foreach (var segment in path.Split('.'))
        {
            int bracket = segment.IndexOf('[', StringComparison.Ordinal);
            string name = bracket >= 0 ? segment[..bracket] : segment;
            type = type?.GetProperty(name, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase)?.PropertyType;
            if (type is not null && bracket >= 0) type = type.IsGenericType ? type.GetGenericArguments()[0] : null;
        }
        return type;
    }

    private static string Expected(Type? type)
    {
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int)) return "a whole number";
        if (type == typeof(ulong)) return "a whole number of 0 or more";
        if (type == typeof(string)) return "a string";
        if (type is { IsGenericType: true } && typeof(System.Collections.IEnumerable).IsAssignableFrom(type)) return "an array";
        if (type is { IsClass: true }) return "an object";
        return "another JSON type";
    }

    [GeneratedRegex("The JSON property '([^']*)' could not be mapped")]
    private static partial Regex Unmapped();

    [GeneratedRegex("missing required properties including: '([^']*)'")]
    private static partial Regex MissingRequired();

    [GeneratedRegex("could not be converted to ")]
    private static partial Regex Converted();

    [GeneratedRegex("allow (?:setting )?null values")]
    private static partial Regex NullValue();
}
