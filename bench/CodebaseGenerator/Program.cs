using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

namespace CodebaseGenerator;

/// <summary>
/// <c>generate &lt;folder&gt; [--files N] [--seed S]</c> writes the benchmark code base and the list of planted leaks;
/// <c>check &lt;folder&gt; &lt;build-log&gt;</c> compares the TDG001 warnings of a build with that list.
/// </summary>
internal static class Program
{
    private const string ManifestName = "planted-leaks.tsv";

    private static readonly string[] Modules =
    {
        "Billing", "Sales", "Catalog", "Shipping", "Inventory", "Support", "Accounts", "Payments", "Reporting", "Marketing",
        "Procurement", "Identity", "Scheduling", "Compliance", "Notifications", "Pricing", "Returns", "Loyalty", "Analytics", "Partners",
    };

    private static readonly string[] Entities =
    {
        "Order", "Customer", "Invoice", "Product", "Shipment", "Payment", "Subscription", "Ticket", "Warehouse", "Supplier",
        "Employee", "Contract", "Refund", "Coupon", "Review", "Category", "Address", "Session", "Quote", "Delivery",
    };

    private static int Main(string[] args)
    {
        try
        {
            return args switch
            {
                ["generate", var folder, .. var options] => Generate(folder, options),
                ["check", var folder, var log] => Check(folder, log),
                _ => Usage(),
            };
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or FormatException)
        {
            Console.Error.WriteLine(ex.Message);
            return 1;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: CodebaseGenerator generate <folder> [--files 400] [--seed 20240611] [--leak-rate 0.04]");
        Console.Error.WriteLine("       CodebaseGenerator check <folder> <build-log>");
        return 2;
    }

    private static int Generate(string folder, string[] options)
    {
        var files = 400;
        var seed = 20240611;
        var leakRate = 0.04;
        for (var i = 0; i + 1 < options.Length; i += 2)
        {
            switch (options[i])
            {
                case "--files": files = int.Parse(options[i + 1], CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(options[i + 1], CultureInfo.InvariantCulture); break;
                case "--leak-rate": leakRate = double.Parse(options[i + 1], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"Unknown option '{options[i]}'.");
            }
        }

        if (files < 1 || files > Modules.Length * Entities.Length)
        {
            throw new ArgumentException($"--files must be between 1 and {Modules.Length * Entities.Length}.");
        }

        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "Generated.csproj"), ProjectFiles.Project);
        File.WriteAllText(Path.Combine(folder, "ca2000.globalconfig"), ProjectFiles.Ca2000Config);
        Directory.CreateDirectory(Path.Combine(folder, "Infrastructure"));
        File.WriteAllText(Path.Combine(folder, "Infrastructure", "TenantPool.cs"), ProjectFiles.Infrastructure);

        var planted = new List<PlantedLeak>();
        var generator = new EntityFileGenerator(leakRate);
        int lines = CountLines(ProjectFiles.Infrastructure), dataAccess = 0, ordinary = 0;
        for (var index = 0; index < files; index++)
        {
            var module = Modules[index / Entities.Length];
            var entityName = Entities[index % Entities.Length];
            var random = new Random(unchecked(seed * 7919 + index));
            var relative = $"{module}/{entityName}Repository.cs";
            var context = new GenerationContext(relative, new EntityModel(module, entityName, random), random, planted);
            generator.Write(context);
            Directory.CreateDirectory(Path.Combine(folder, module));
            File.WriteAllText(Path.Combine(folder, module, entityName + "Repository.cs"), context.W.ToString());
            lines += context.W.LineCount;
            dataAccess += context.DataAccessMethods;
            ordinary += context.OrdinaryMethods;
        }

        var manifest = new StringBuilder("file\tline\tshape\treason\tmessage\n");
        foreach (var leak in planted)
        {
            manifest.Append(CultureInfo.InvariantCulture, $"{leak.File}\t{leak.Line}\t{leak.Shape}\t{leak.Reason}\t{leak.Message ?? "-"}\n");
        }

        File.WriteAllText(Path.Combine(folder, ManifestName), manifest.ToString());

        var methods = dataAccess + ordinary;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Generated {files + 1} files, {lines} lines, {methods} methods into {Path.GetFullPath(folder)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Data-access methods: {dataAccess} ({100.0 * dataAccess / methods:F1}% of methods)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Planted leaks: {planted.Count} ({100.0 * planted.Count / dataAccess:F1}% of data-access methods), listed in {ManifestName}"));
        foreach (var group in planted.GroupBy(p => p.Shape))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {group.Count(),3}  {group.Key}"));
        }

        return 0;
    }

    private static int Check(string folder, string log)
    {
        var root = Path.GetFullPath(folder).TrimEnd('/') + "/";
        var planted = File.ReadLines(Path.Combine(folder, ManifestName)).Skip(1)
            .Select(line => line.Split('\t'))
            .Select(f => new PlantedLeak(f[0], int.Parse(f[1], CultureInfo.InvariantCulture), f[2], f[3], f[4] == "-" ? null : f[4]))
            .ToList();

        var pattern = new Regex(@"^(?<file>/.+?)\((?<line>\d+),(?<column>\d+)\): warning TDG001: (?<message>.*?)(?: \(https?://[^)]*\))?(?: \[[^\]]*\])?$", RegexOptions.CultureInvariant);
        var reported = File.ReadLines(log)
            .Select(line => pattern.Match(line.Trim()))
            .Where(m => m.Success)
            .Select(m => (File: m.Groups["file"].Value.Replace(root, "", StringComparison.Ordinal), Line: int.Parse(m.Groups["line"].Value, CultureInfo.InvariantCulture), Message: m.Groups["message"].Value))
            .Distinct()
            .ToList();

        var byLocation = reported.ToLookup(r => (r.File, r.Line));
        var found = planted.Where(p => byLocation.Contains((p.File, p.Line))).ToList();
        var missed = planted.Where(p => !byLocation.Contains((p.File, p.Line))).ToList();
        var plantedLocations = planted.Select(p => (p.File, p.Line)).ToHashSet();
        var unexpected = reported.Where(r => !plantedLocations.Contains((r.File, r.Line))).ToList();

        Console.WriteLine($"TDG001 warnings: {reported.Count}; planted leaks: {planted.Count}; found: {found.Count}; missed: {missed.Count}; on code meant as correct: {unexpected.Count}");
        Console.WriteLine();
        Console.WriteLine("planted  found  message as expected  shape");
        foreach (var group in planted.GroupBy(p => p.Shape))
        {
            var hits = group.Count(p => byLocation.Contains((p.File, p.Line)));
            var exact = group.Count(p => byLocation[(p.File, p.Line)].Any(r => MessageMatches(p, r.Message)));
            Console.WriteLine($"{group.Count(),7}  {hits,5}  {exact,19}  {group.Key}");
        }

        foreach (var p in found.Where(p => !byLocation[(p.File, p.Line)].Any(r => MessageMatches(p, r.Message))).GroupBy(p => p.Shape).Select(g => g.First()))
        {
            Console.WriteLine();
            Console.WriteLine($"Message differs ({p.Shape}) at {p.File}:{p.Line}");
            Console.WriteLine($"  expected: {p.Message ?? "(reason " + p.Reason + ")"}");
            Console.WriteLine($"  reported: {byLocation[(p.File, p.Line)].First().Message}");
        }

        foreach (var p in missed.GroupBy(p => p.Shape).Select(g => g.First()))
        {
            Console.WriteLine();
            Console.WriteLine($"Missed ({p.Shape}), first of {missed.Count(m => m.Shape == p.Shape)}: {p.File}:{p.Line}");
            PrintMethod(Path.Combine(folder, p.File), p.Line);
        }

        foreach (var r in unexpected)
        {
            Console.WriteLine();
            Console.WriteLine($"On code meant as correct: {r.File}:{r.Line}: {r.Message}");
            PrintMethod(Path.Combine(folder, r.File), r.Line);
        }

        return 0;
    }

    private static bool MessageMatches(PlantedLeak planted, string message) =>
        planted.Message is { } expected ? message == expected : Reason(message) == planted.Reason;

    private static string Reason(string message) =>
        message switch
        {
            _ when message.Contains("discarded", StringComparison.Ordinal) => "discarded",
            _ when message.Contains("overwritten", StringComparison.Ordinal) => "overwritten",
            _ when message.Contains("acquired again", StringComparison.Ordinal) => "acquired-again",
            _ when message.Contains("returns at line", StringComparison.Ordinal) => "return",
            _ when message.Contains("exception", StringComparison.Ordinal) => "exception",
            _ => "other",
        };

    /// <summary>Prints the method around a line: from the member's first line to its closing brace.</summary>
    private static void PrintMethod(string path, int line)
    {
        var lines = File.ReadAllLines(path);
        var start = line - 1;
        while (start > 0 && !(lines[start].StartsWith("    public ", StringComparison.Ordinal) || lines[start].StartsWith("    private ", StringComparison.Ordinal)))
        {
            start--;
        }

        var end = line - 1;
        while (end < lines.Length - 1 && lines[end] != "    }")
        {
            end++;
        }

        for (var i = start; i <= end; i++)
        {
            Console.WriteLine($"  {i + 1,5}{(i + 1 == line ? " >" : "  ")} {lines[i]}");
        }
    }

    private static int CountLines(string text) => text.Count(ch => ch == '\n');
}
