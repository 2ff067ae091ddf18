using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.Diagnostics;

namespace TenantDbGuard.Analyzers.Tests;

/// <summary>Checks that hold for every rule: ids, help links, docs pages, release tracking, exported fixes.</summary>
public sealed class MetaTests
{
    private static readonly string[] DocsHeadings = ["Cause", "Rule description", "How to fix", "How to suppress", "Examples"];

    private static readonly ImmutableArray<Type> AnalyzerTypes = typeof(Descriptors).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && typeof(DiagnosticAnalyzer).IsAssignableFrom(t))
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .ToImmutableArray();

    private static readonly ImmutableArray<Type> CodeFixTypes = Assembly.Load("TenantDbGuard.CodeFixes").GetTypes()
        .Where(t => t is { IsAbstract: false, IsGenericTypeDefinition: false } && typeof(CodeFixProvider).IsAssignableFrom(t))
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .ToImmutableArray();

    /// <summary>Every descriptor: the public fields of <see cref="Descriptors"/> and whatever an analyzer supports.</summary>
    private static readonly ImmutableArray<DiagnosticDescriptor> AllDescriptors = typeof(Descriptors)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
        .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
        .Concat(AnalyzerTypes.SelectMany(t => CreateAnalyzer(t).SupportedDiagnostics))
        .Distinct()
        .ToImmutableArray();

    private static readonly ImmutableHashSet<string> DiagnosticIdConstants = typeof(DiagnosticIds)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f is { IsLiteral: true, IsInitOnly: false } && f.FieldType == typeof(string))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToImmutableHashSet(StringComparer.Ordinal);

    public static TheoryData<string> DescriptorIds
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var id in AllDescriptors.Select(d => d.Id).Distinct().Order(StringComparer.Ordinal))
            {
                data.Add(id);
            }

            return data;
        }
    }

    public static TheoryData<string> AnalyzerNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var type in AnalyzerTypes)
            {
                data.Add(type.FullName!);
            }

            return data;
        }
    }

    [Fact]
    public void Analyzer_assembly_contains_analyzers()
    {
        Assert.NotEmpty(AnalyzerTypes);
    }

    [Fact]
    public void Descriptor_ids_are_unique()
    {
        var duplicates = AllDescriptors
            .GroupBy(d => d.Id, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(" | ", g.Select(d => d.Title.ToString()))}")
            .ToList();
        Assert.True(duplicates.Count == 0, "Several descriptors share an id: " + string.Join("; ", duplicates));
    }

    [Fact]
    public void DiagnosticIds_constants_are_unique_and_each_has_a_descriptor()
    {
        var constants = typeof(DiagnosticIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.Equal(constants.Count, constants.Distinct(StringComparer.Ordinal).Count());
        var withoutDescriptor = constants.Except(AllDescriptors.Select(d => d.Id), StringComparer.Ordinal).ToList();
        Assert.True(withoutDescriptor.Count == 0, "Ids without a descriptor: " + string.Join(", ", withoutDescriptor));
    }

    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void Id_is_a_DiagnosticIds_constant(string id)
    {
        Assert.Contains(id, DiagnosticIdConstants);
    }

    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void Help_link_points_at_the_rule_page(string id)
    {
        var descriptor = Descriptor(id);
        Assert.Equal(Descriptors.HelpLinkBase + id + ".md", descriptor.HelpLinkUri);
    }

    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void Descriptor_has_title_message_category_and_description(string id)
    {
        var descriptor = Descriptor(id);
        Assert.False(string.IsNullOrWhiteSpace(descriptor.Title.ToString()), $"{id} has no title.");
        Assert.False(string.IsNullOrWhiteSpace(descriptor.MessageFormat.ToString()), $"{id} has no message format.");
        Assert.False(string.IsNullOrWhiteSpace(descriptor.Category), $"{id} has no category.");
        Assert.False(string.IsNullOrWhiteSpace(descriptor.Description.ToString()), $"{id} has no description.");
        Assert.True(descriptor.IsEnabledByDefault, $"{id} is not enabled by default.");
    }

    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void Docs_page_exists_with_the_standard_sections(string id)
    {
        var path = RepositoryRoot.Combine($"docs/rules/{id}.md");
        Assert.True(File.Exists(path), $"docs/rules/{id}.md is missing.");

        var text = File.ReadAllText(path);
        var headings = Regex.Matches(text, @"^#{1,6}[ \t]+(?<title>.+?)[ \t#]*$", RegexOptions.Multiline)
            .Select(m => m.Groups["title"].Value.Trim())
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var missing = DocsHeadings.Where(h => !headings.Contains(h)).ToList();
        Assert.True(missing.Count == 0, $"docs/rules/{id}.md lacks the heading(s): {string.Join(", ", missing)}.");
    }

    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void Docs_page_states_what_the_descriptor_says(string id)
    {
        // The IDE shows the descriptor's title, severity and description; the rule page the user lands on from its help
        // link says the same, word for word.
        var descriptor = Descriptor(id);
        var text = File.ReadAllText(RepositoryRoot.Combine($"docs/rules/{id}.md")).ReplaceLineEndings("\n");

        Assert.StartsWith($"# {id}: {descriptor.Title}\n", text, StringComparison.Ordinal);
        Assert.Equal(descriptor.Title.ToString(), PropertyRow(text, "Title"));
        Assert.Equal(descriptor.Category, PropertyRow(text, "Category"));
        Assert.Equal(descriptor.DefaultSeverity.ToString(), PropertyRow(text, "Default severity"));
        Assert.Equal(descriptor.IsEnabledByDefault ? "Yes" : "No", PropertyRow(text, "Enabled by default"));
        Assert.Contains("\n> " + descriptor.Description + "\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void Release_tracking_lists_the_id(string id)
    {
        var descriptor = Descriptor(id);
        var row = new Regex(@"^[ \t]*" + Regex.Escape(id) + @"[ \t]*\|(?<rest>.*)$", RegexOptions.Multiline);
        var rows = new[] { "src/Analyzers/AnalyzerReleases.Shipped.md", "src/Analyzers/AnalyzerReleases.Unshipped.md" }
            .Select(RepositoryRoot.Combine)
            .Where(File.Exists)
            .SelectMany(path => row.Matches(File.ReadAllText(path)))
            .ToList();
        Assert.True(rows.Count > 0, $"{id} is in neither AnalyzerReleases.Shipped.md nor AnalyzerReleases.Unshipped.md.");
        Assert.Contains(rows, m => m.Groups["rest"].Value.Contains(descriptor.Category, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(AnalyzerNames))]
    public void Analyzer_is_a_CSharp_analyzer_with_descriptors(string analyzerName)
    {
        var type = AnalyzerTypes.Single(t => t.FullName == analyzerName);
        var attribute = type.GetCustomAttribute<DiagnosticAnalyzerAttribute>();
        Assert.NotNull(attribute);
        Assert.Contains(LanguageNames.CSharp, attribute.Languages);
        Assert.NotEmpty(CreateAnalyzer(type).SupportedDiagnostics);
    }

    [Theory]
    [MemberData(nameof(AnalyzerNames))]
    public void Analyzer_runs_concurrently_and_skips_generated_code(string analyzerName)
    {
        var context = new RecordingAnalysisContext();
        CreateAnalyzer(AnalyzerTypes.Single(t => t.FullName == analyzerName)).Initialize(context);
        Assert.True(context.ConcurrentExecutionEnabled, $"{analyzerName} does not call EnableConcurrentExecution().");
        Assert.Equal(GeneratedCodeAnalysisFlags.None, context.GeneratedCodeAnalysis);
    }

    [Fact]
    public void Code_fixes_are_exported_shared_and_fix_known_ids()
    {
        var problems = new List<string>();
        foreach (var type in CodeFixTypes)
        {
            var export = type.GetCustomAttribute<ExportCodeFixProviderAttribute>();
            if (export is null || !export.Languages.Contains(LanguageNames.CSharp))
            {
                problems.Add($"{type.Name} lacks [ExportCodeFixProvider(LanguageNames.CSharp)].");
            }

            if (type.GetCustomAttribute<SharedAttribute>() is null)
            {
                problems.Add($"{type.Name} lacks [Shared].");
            }

            var provider = (CodeFixProvider)Activator.CreateInstance(type)!;
            var unknown = provider.FixableDiagnosticIds.Where(id => !DiagnosticIdConstants.Contains(id)).ToList();
            if (provider.FixableDiagnosticIds.IsEmpty || unknown.Count > 0)
            {
                problems.Add($"{type.Name} fixes unknown ids: [{string.Join(", ", unknown)}] (of [{string.Join(", ", provider.FixableDiagnosticIds)}]).");
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_rule_with_a_fix_has_its_provider_exported()
    {
        // The rule pages promise these fixes; the analyzer's name with CodeFixProvider for a suffix (STYLE.md).
        var expected = new Dictionary<string, string>
        {
            ["ConnectionLeakCodeFixProvider"] = "TDG001",
            ["SharedPoolClosedCodeFixProvider"] = "TDG003",
            ["UseAfterReleaseCodeFixProvider"] = "TDG004",
            ["ConnectionOwnerCodeFixProvider"] = "TDG005",
        };
        var actual = CodeFixTypes.ToDictionary(
            t => t.Name,
            t => string.Join(",", ((CodeFixProvider)Activator.CreateInstance(t)!).FixableDiagnosticIds.Order(StringComparer.Ordinal)));
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), actual.OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    private static DiagnosticAnalyzer CreateAnalyzer(Type type) => (DiagnosticAnalyzer)Activator.CreateInstance(type)!;

    private static DiagnosticDescriptor Descriptor(string id) => AllDescriptors.First(d => d.Id == id);

    /// <summary>The value of a row of the property table at the top of a rule page.</summary>
    private static string PropertyRow(string page, string property)
    {
        var row = Regex.Match(page, @"^\|[ \t]*" + Regex.Escape(property) + @"[ \t]*\|[ \t]*(?<value>.*?)[ \t]*\|[ \t]*$", RegexOptions.Multiline);
        Assert.True(row.Success, $"The rule page has no '{property}' row.");
        return row.Groups["value"].Value;
    }

    /// <summary>Records the configuration calls of <see cref="DiagnosticAnalyzer.Initialize"/>; registrations are ignored.</summary>
    private sealed class RecordingAnalysisContext : AnalysisContext
    {
        public bool ConcurrentExecutionEnabled { get; private set; }

        public GeneratedCodeAnalysisFlags? GeneratedCodeAnalysis { get; private set; }

        public override void EnableConcurrentExecution() => ConcurrentExecutionEnabled = true;

        public override void ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags analysisMode) => GeneratedCodeAnalysis = analysisMode;

        public override void RegisterCompilationStartAction(Action<CompilationStartAnalysisContext> action)
        {
        }

        public override void RegisterCompilationAction(Action<CompilationAnalysisContext> action)
        {
        }

        public override void RegisterSemanticModelAction(Action<SemanticModelAnalysisContext> action)
        {
        }

        public override void RegisterSymbolAction(Action<SymbolAnalysisContext> action, ImmutableArray<SymbolKind> symbolKinds)
        {
        }

        public override void RegisterCodeBlockStartAction<TLanguageKindEnum>(Action<CodeBlockStartAnalysisContext<TLanguageKindEnum>> action)
        {
        }

        public override void RegisterCodeBlockAction(Action<CodeBlockAnalysisContext> action)
        {
        }

        public override void RegisterSyntaxTreeAction(Action<SyntaxTreeAnalysisContext> action)
        {
        }

        public override void RegisterSyntaxNodeAction<TLanguageKindEnum>(Action<SyntaxNodeAnalysisContext> action, ImmutableArray<TLanguageKindEnum> syntaxKinds)
        {
        }

        public override void RegisterOperationAction(Action<OperationAnalysisContext> action, ImmutableArray<OperationKind> operationKinds)
        {
        }

        public override void RegisterOperationBlockStartAction(Action<OperationBlockStartAnalysisContext> action)
        {
        }

        public override void RegisterOperationBlockAction(Action<OperationBlockAnalysisContext> action)
        {
        }

        public override void RegisterSymbolStartAction(Action<SymbolStartAnalysisContext> action, SymbolKind symbolKind)
        {
        }

        public override void RegisterAdditionalFileAction(Action<AdditionalFileAnalysisContext> action)
        {
        }
    }
}
