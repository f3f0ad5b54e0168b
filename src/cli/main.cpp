#include "cli/commands.hpp"

int main(int argc, char** argv) { return concur::run_cli(argc, argv); }
