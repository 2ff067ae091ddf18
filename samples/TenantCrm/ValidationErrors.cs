using System.Collections.Generic;
using System.Linq;
using Microsoft.AspNetCore.Http;

namespace TenantCrm;

/// <summary>The reasons a request is invalid, per field; becomes a 400 <c>ValidationProblem</c>.</summary>
internal sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(System.StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    public void Add(string field, string reason)
    {
        if (!_errors.TryGetValue(field, out var reasons))
        {
            _errors[field] = reasons = [];
        }

        reasons.Add(reason);
    }

    /// <summary>Checks an optional text: at most <paramref name="maxLength"/> characters, no control characters.</summary>
    /// <returns>The trimmed text, or <see langword="null"/> when it is missing or blank.</returns>
    public string? Text(string field, string? value, int maxLength, bool required = false)
    {
        var text = string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        if (text is null)
        {
            if (required)
            {
                Add(field, $"The {field} is required.");
            }
        }
        else if (text.Length > maxLength)
        {
            Add(field, $"The {field} must be at most {maxLength} characters; it has {text.Length}.");
        }
        else if (text.Any(char.IsControl))
        {
            Add(field, $"The {field} must not contain control characters.");
        }

        return text;
    }

    /// <summary>Checks an optional whole number in a range.</summary>
    /// <returns>The number, or <paramref name="fallback"/> when it is missing or invalid.</returns>
    public int Number(string field, string? value, int fallback, int min, int max)
    {
        if (string.IsNullOrEmpty(value))
        {
            return fallback;
        }

        if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number < min || number > max)
        {
            Add(field, $"The {field} must be a whole number from {min} to {max}.");
            return fallback;
        }

        return number;
    }

    public IResult ToResult() => TypedResults.ValidationProblem(_errors.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray()));
}
