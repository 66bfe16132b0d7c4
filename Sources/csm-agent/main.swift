print("csm-agent")
