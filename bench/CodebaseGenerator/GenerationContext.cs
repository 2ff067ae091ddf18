using System;
using System.Collections.Generic;

namespace CodebaseGenerator;

/// <summary>A leak the generator put into the code base on purpose, where TDG001 is expected.</summary>
/// <param name="File">Path relative to the output folder, with forward slashes.</param>
/// <param name="Line">1-based line of the acquiring invocation (where the diagnostic is expected).</param>
/// <param name="Shape">Short name of the leak pattern.</param>
/// <param name="Reason">The reason the contract gives: discarded, overwritten, acquired-again, return or exception.</param>
/// <param name="Message">The full expected message, or null when only the reason is checked.</param>
internal sealed record PlantedLeak(string File, int Line, string Shape, string Reason, string? Message);

/// <summary>What the templates of one file share: the writer, the entity, the random source and the names in use.</summary>
internal sealed class GenerationContext
{
    private static readonly string[] Qualifiers =
        { "ForTenant", "Recent", "Pending", "Archived", "Active", "Bulk", "Internal", "Scheduled", "Flagged", "Legacy" };

    private readonly HashSet<string> _methodNames = new(StringComparer.Ordinal);

    public GenerationContext(string file, EntityModel entity, Random random, List<PlantedLeak> planted)
    {
        File = file;
        Entity = entity;
        Random = random;
        Planted = planted;
    }

    public string File { get; }

    public EntityModel Entity { get; }

    public Random Random { get; }

    public CodeWriter W { get; } = new();

    public List<PlantedLeak> Planted { get; }

    public int DataAccessMethods { get; set; }

    public int OrdinaryMethods { get; set; }

    /// <summary>A method name not used yet in the class: <paramref name="stem"/> with a qualifier inserted before the suffix when needed.</summary>
    public string MethodName(string stem, string suffix = "Async")
    {
        var name = stem + suffix;
        for (var i = 0; !_methodNames.Add(name); i++)
        {
            var qualifier = i < Qualifiers.Length ? Qualifiers[i] : Qualifiers[i % Qualifiers.Length] + (i / Qualifiers.Length);
            name = stem + qualifier + suffix;
        }

        return name;
    }

    public string ConnectionVariable() => Pick("conn", "connection", "db");

    public string Pick(params string[] options) => options[Random.Next(options.Length)];

    public void Plant(int line, string shape, string reason, string? message) =>
        Planted.Add(new PlantedLeak(File, line, shape, reason, message));

    public static string Returns(string variable, int line) => $"'{variable}' is not released on the path that returns at line {line}";

    public static string Throws(string variable, int line) => $"'{variable}' is not released if an exception is thrown at line {line}";

    public static string Overwritten(string variable, int line) => $"'{variable}' is not released when '{variable}' is overwritten at line {line}";

    public static string AcquiredAgain(string variable, int line) => $"'{variable}' is not released when it is acquired again at line {line}";

    public static string Discarded(string method) => $"The result of '{method}' is not released because the result is discarded";
}
